/** Counters of the relay, read by `status`, the admin API and (later) the cloud `metrics`. */
export class RelayMetrics {
  framesFromStations = 0;
  framesFromCpms = 0;
  bytesFromStations = 0;
  bytesFromCpms = 0;
  malformedFrames = 0;
  oversizedFrames = 0;
  gatewayCalls = 0;
  /** Station calls the gateway answered itself (local authorization). */
  localAnswers = 0;
  swallowedReplies = 0;
  upstreamReconnects = 0;
  upstreamOutagesBeyondGrace = 0;
  slowPeerCloses = 0;
  /** Stations closed for sending calls faster than the CPMS answers them (more waiting than the bounds allow). */
  stationCallOverflows = 0;
  /** Stations closed because more than `maxBufferedBytes` was held for them during a CPMS outage. */
  outageHoldOverflows = 0;
  handshakesRefused = 0;
  authFailures = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
  }
}
