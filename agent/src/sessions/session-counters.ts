/** Counters of the session and station bookkeeping, for `status` and (later) the cloud `metrics`. */
export class SessionCounters {
  sessionsStarted = 0;
  sessionsUpdated = 0;
  sessionsEnded = 0;
  /** Authorize requests seen (the CPMS or the local answerer decides; this only counts). */
  authorizeRequests = 0;
  stationBoots = 0;
  statusNotifications = 0;
  /** Payloads of the messages read here that do not have the OCPP shape; relayed anyway, not used. */
  sessionPayloadsMalformed = 0;
  /** A stop, meter value or TransactionEvent for a transaction the gateway never saw start. */
  sessionUnknownTransactions = 0;
  /** A message repeated by the station (resent StartTransaction, StopTransaction, TransactionEvent seqNo). */
  sessionRepeatedMessages = 0;
  /** Text values longer than their OCPP type allows (a badge, a boot field, a status): kept cut, with `…` (bounded-text.ts). */
  sessionValuesTruncated = 0;
  /** StartTransaction answered with a CALLERROR: no transaction, no session. */
  sessionStartsRefused = 0;
  /** A 1.6 CPMS gave an active transaction's id to a new one; the older session is closed. */
  sessionTransactionIdsReused = 0;
  /** Anything else that went wrong while bookkeeping (a database error): logged, the relay goes on. */
  sessionObserverErrors = 0;
  /** The event sink threw; the session change itself is kept. */
  eventSinkFailures = 0;
  /** Frames whose bookkeeping had to wait for the storage (disk full, I/O error, write lock); written later, in order. */
  bookkeepingDeferred = 0;
  /** Frames relayed but never recorded: the storage was unavailable and the in-memory wait was full. */
  bookkeepingDropped = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
  }
}
