import { skip, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';
import { probe } from '../network-probe.js';

/** The cloud broker, when `mqtt` is configured: DNS, TCP, and for `mqtts://` TLS with `mqtt.tls`. */
export async function mqttChecks(context: DiagContext): Promise<CheckResult[]> {
  const loaded = context.loaded;
  if (loaded === undefined) return [skip('mqtt', 'MQTT broker', 'needs a valid configuration')];
  if (loaded.kind !== 'ready') return [skip('mqtt', 'MQTT broker', 'no cloud link before enrollment')];
  const mqtt = loaded.config.mqtt;
  if (mqtt === undefined) return [skip('mqtt', 'MQTT broker', 'no mqtt configured: no cloud link')];
  const url = new URL(mqtt.url);
  const secure = url.protocol === 'mqtts:';
  return probe(
    {
      id: 'mqtt',
      name: 'MQTT broker',
      url,
      defaultPort: secure ? 8883 : 1883,
      ...(secure ? { tls: mqtt.tls } : {}),
      fixUnreachable: `check mqtt.url (${url.host}), that the broker is up, and that the site's firewall lets this gateway out to it`,
    },
    context.timeoutMs,
  );
}
