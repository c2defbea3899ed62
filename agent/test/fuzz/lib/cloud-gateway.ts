/**
 * A real gateway with its MQTT cloud link, for the cloud fuzz tests: the
 * shared test gateway, with short timeouts and its upstream on a closed port
 * (only the cloud side is attacked).
 */
import type { Test } from 'tap';
import type { Gateway } from '../../../src/gateway.js';
import { startTestGateway } from '../../helpers/test-gateway.js';

export function startCloudGateway(t: Test, mqttUrl: string, protocolVersion: 4 | 5, gatewayId: string, upstreamUrl = 'ws://127.0.0.1:9/ocpp'): Promise<Gateway> {
  return startTestGateway(t, {
    upstreamUrl,
    gatewayId,
    connectTimeoutMs: 1000,
    outageGraceMs: 1000,
    callTimeoutMs: 1000,
    mqtt: { url: mqttUrl, tls: {}, topicPrefix: `pleevi/v1/gw/${gatewayId}`, outboxMaxEvents: 10_000, protocolVersion },
  });
}
