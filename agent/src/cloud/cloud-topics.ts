import type { GatewayEvent } from '../events/gateway-events.js';

/** The topics of docs/cloud.md "Topics" under the gateway's prefix `P` (`mqtt.topicPrefix`, gateway id filled in). */
export class CloudTopics {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.replace(/\/+$/, '');
  }

  /** Retained `{"online":...}`, and the last will. */
  get status(): string {
    return `${this.prefix}/status`;
  }

  get ack(): string {
    return `${this.prefix}/ack`;
  }

  get metrics(): string {
    return `${this.prefix}/metrics`;
  }

  /** The subscription: one level per command name. */
  get commands(): string {
    return `${this.prefix}/cmd/+`;
  }

  event(topic: GatewayEvent['topic']): string {
    return `${this.prefix}/events/${topic}`;
  }

  /** `P/cmd/<name>` to `<name>`; undefined for any other topic. */
  commandName(topic: string): string | undefined {
    const head = `${this.prefix}/cmd/`;
    if (!topic.startsWith(head)) return undefined;
    const name = topic.slice(head.length);
    return name === '' || name.includes('/') ? undefined : name;
  }
}
