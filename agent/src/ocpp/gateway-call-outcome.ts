/**
 * What one of the gateway's own CALLs to a station returns: the station's
 * CALLRESULT payload or its CALLERROR. Shared by the proxy (which runs the
 * call lane) and the features that make calls (schedules).
 */
export type GatewayCallOutcome =
  | { readonly kind: 'result'; readonly payload: unknown }
  | { readonly kind: 'error'; readonly errorCode: string; readonly errorDescription: string; readonly errorDetails: unknown };
