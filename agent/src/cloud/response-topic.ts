import type { CloudTopics } from './cloud-topics.js';

/**
 * Longest response topic accepted, in UTF-8 bytes. MQTT allows 65,535; a
 * reply address the cloud chooses needs far less, and every ack is published
 * there, so it is kept to a sane size.
 */
export const MAX_RESPONSE_TOPIC_BYTES = 512;

/**
 * Levels right below `P` that are the gateway's own and never a place for a
 * reply: `P/cmd/...` would feed the ack back in as a command, `P/status`,
 * `P/events/...` and `P/metrics` would put something that is not a status,
 * an event or a snapshot where the cloud reads those.
 */
const RESERVED_LEVELS: ReadonlySet<string> = new Set(['cmd', 'status', 'events', 'metrics']);

/**
 * Why a command's MQTT 5 Response Topic cannot be used, or undefined when it
 * can. The gateway publishes the ack there, so the topic must be a valid
 * topic *name* (MQTT 5 section 3.3.2.3.5: a Response Topic "MUST NOT contain
 * wildcard characters"; section 4.7.3: topic names are at least one character
 * and hold no U+0000). A broker disconnects a client that publishes to a
 * wildcard, so an unchecked `evil/#` would take the whole cloud link down.
 *
 * Only `P/ack`, or a topic under `P` outside the gateway's own levels
 * (`P/ack/ops`, `P/replies/ops`), is accepted: a command must not make the
 * gateway publish on another gateway's topics or anywhere else on the broker.
 */
export function responseTopicProblem(topic: string, topics: CloudTopics): string | undefined {
  if (topic === '') return 'the response topic is empty';
  if (topic.includes('\u0000')) return 'the response topic contains a NUL character';
  if (topic.includes('#') || topic.includes('+')) return `the response topic "${shown(topic)}" contains a wildcard (# or +); a reply goes to one topic name`;
  const bytes = Buffer.byteLength(topic, 'utf8');
  if (bytes > MAX_RESPONSE_TOPIC_BYTES) return `the response topic has ${bytes} bytes; at most ${MAX_RESPONSE_TOPIC_BYTES} are allowed`;
  const head = `${topics.prefix}/`;
  if (topic === topics.ack) return undefined;
  if (!topic.startsWith(head) || topic.length === head.length) {
    return `the response topic "${shown(topic)}" is outside this gateway's topics; use ${topics.ack} or a topic under ${head}`;
  }
  const level = topic.slice(head.length).split('/', 1)[0] ?? '';
  if (RESERVED_LEVELS.has(level)) return `the response topic "${shown(topic)}" is one of the gateway's own topics (${head}${level}); use ${topics.ack} or another topic under ${head}`;
  return undefined;
}

/** Quoted in the ack and the log: a very long topic is cut. */
function shown(topic: string): string {
  return topic.length > 100 ? `${topic.slice(0, 100)}...` : topic;
}
