/**
 * The OCPP version a station speaks, from the negotiated subprotocol. 2.0,
 * 2.0.1 and 2.1 share the TransactionEvent model (2.0.1 Part 2 section E), so
 * the session logic has two families.
 */
export type OcppFamily = '1.6' | '2.0.1';

/** `ocpp1.6` → `1.6`, `ocpp2.0.1` → `2.0.1`: the `ocppVersion` of events and records. */
export function ocppVersionOf(protocol: string): string {
  return protocol.startsWith('ocpp') ? protocol.slice('ocpp'.length) : protocol;
}

export function ocppFamilyOf(protocol: string): OcppFamily | undefined {
  switch (protocol) {
    case 'ocpp1.6':
      return '1.6';
    case 'ocpp2.0':
    case 'ocpp2.0.1':
    case 'ocpp2.1':
      return '2.0.1';
    default:
      return undefined;
  }
}
