import { Agent } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';

/**
 * What a `wss://` dial to the CPMS reuses from the one before
 * (docs/benchmark.md "Reconnect storm"): building a TLS context from PEM
 * text parses the CA, certificate and key every time (about 3 ms of CPU per
 * dial measured on the bench machine), and a fresh handshake without
 * session resumption costs the CPMS and the gateway a full key exchange.
 * After a power cut every station dials at once, so both add up.
 *
 * Each set of PEM texts (the gateway's own client certificate, or a
 * station's own) gets one context and one agent that keeps the TLS sessions
 * the CPMS hands out (RFC 5077 tickets, session ids) for the next dial. One
 * agent per set, never shared: a session resumed under another client
 * certificate would authenticate one station as another. A renewed
 * certificate is another set of texts, hence a new context and agent.
 */
export interface UpstreamTlsSetup {
  readonly secureContext: SecureContext;
  readonly agent: Agent;
}

/** Sets kept at once: the gateway's own plus stations with their own certificates; renewals replace them. */
const MAX_SETS = 256;

export class UpstreamTls {
  private readonly sets = new Map<string, UpstreamTlsSetup>();

  setupFor(ca: string | undefined, cert: string | undefined, key: string | undefined): UpstreamTlsSetup {
    const name = `${ca ?? ''}\u0000${cert ?? ''}\u0000${key ?? ''}`;
    let setup = this.sets.get(name);
    if (!setup) {
      if (this.sets.size >= MAX_SETS) this.close();
      setup = {
        secureContext: createSecureContext({ ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}) }),
        // keepAlive off: every upgrade owns its socket; the agent is here for its TLS session cache.
        agent: new Agent({ keepAlive: false, maxCachedSessions: 100 }),
      };
      this.sets.set(name, setup);
    }
    return setup;
  }

  close(): void {
    for (const { agent } of this.sets.values()) agent.destroy();
    this.sets.clear();
  }
}
