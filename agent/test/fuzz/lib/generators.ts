/**
 * Hostile and well-formed inputs for the fuzz suite, all drawn from a seeded
 * Rng: station ids (as they go on the wire), OCPP-J frames, Basic Auth
 * headers, raw HTTP upgrade requests, cloud commands and driver CSV files.
 */
import type { Rng } from './prng.js';

const SAFE_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~';
const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const UNICODE_BITS = ['é', 'ß', 'Ω', 'Ж', '中', '𝄞', '😀', '\u202e', '\u200b', '\u0301', '\ufeff', 'ﬀ', 'İ', '\u00a0', '\u2028'];

// ---------------------------------------------------------------- station ids

export interface WireStationId {
  /** The path segment exactly as written on the request line, after `/ocpp/`. */
  readonly segment: string;
  /** What the segment decodes to (the station id a correct gateway would use), when it decodes. */
  readonly decoded: string | undefined;
  readonly kind: string;
}

/** Segments found by the LAN attack, and their relatives. */
const HOSTILE_SEGMENTS: readonly (readonly [string, string])[] = [
  ['.', 'dot'],
  ['..', 'dot-dot'],
  ['%2E%2E', 'encoded dot-dot'],
  ['%2e', 'encoded dot'],
  ['.%2E', 'half-encoded dot-dot'],
  ['%2F', 'encoded slash'],
  ['a%2Fb', 'encoded slash inside'],
  ['%2F..%2F..%2Fadmin', 'encoded traversal'],
  ['%00', 'NUL'],
  ['CP%00evil', 'NUL inside'],
  ['%5C', 'encoded backslash'],
  ['..%5C..', 'backslash traversal'],
  ['%0D%0AX-Injected:%201', 'CRLF'],
  ['%3A', 'encoded colon'],
  ['CP:1', 'colon'],
  ['%25', 'encoded percent'],
  ['%', 'lone percent'],
  ['%zz', 'bad escape'],
  ['%C0%AF', 'overlong UTF-8'],
  ['%FF%FE', 'invalid UTF-8'],
  ['%E2%80%AE', 'RTL override'],
  ['%3F', 'encoded question mark'],
  ['%23', 'encoded hash'],
  ['%20', 'encoded space'],
  ['a;b=c', 'matrix parameter'],
  ['CP-1?x=%2F..', 'query'],
  ['CP-1#frag', 'fragment'],
  ['', 'empty'],
  ['a/b', 'two segments'],
  ['/', 'trailing slash'],
  ['x'.repeat(48), '48 chars'],
  ['x'.repeat(49), '49 chars'],
  ['é'.repeat(48), '48 unicode chars raw'],
  [encodeURIComponent('é'.repeat(49)), '49 unicode chars'],
  ['%F0%9F%98%80'.repeat(25), '25 emoji (50 UTF-16 units)'],
];

export function tryDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function genStationId(rng: Rng): WireStationId {
  return rng.weighted<WireStationId>([
    [3, () => {
      const id = rng.string(rng.range(1, 48), SAFE_ID_CHARS);
      return { segment: encodeURIComponent(id), decoded: id, kind: 'printable' };
    }],
    [2, () => {
      let id = '';
      const length = rng.range(1, 20);
      for (let i = 0; i < length; i += 1) id += rng.bool(0.5) ? rng.pick(UNICODE_BITS) : rng.pick([...PRINTABLE]);
      return { segment: encodeURIComponent(id), decoded: id, kind: 'unicode' };
    }],
    [4, () => {
      const [segment, kind] = rng.pick(HOSTILE_SEGMENTS);
      return { segment, decoded: segment.includes('?') || segment.includes('#') ? tryDecode(segment.split(/[?#]/, 1)[0] ?? '') : tryDecode(segment), kind };
    }],
    [1, () => {
      // Random percent escapes, valid or not.
      let segment = '';
      const length = rng.range(1, 12);
      for (let i = 0; i < length; i += 1) {
        segment += rng.bool(0.5) ? `%${rng.string(2, '0123456789ABCDEFabcdefXZ')}` : rng.string(1, SAFE_ID_CHARS);
      }
      return { segment, decoded: tryDecode(segment), kind: 'random escapes' };
    }],
  ]);
}

/**
 * Ids of the known path escape (issue 8 item 5): a decoded id that is `.` or
 * `..`, or holds a `/`, a backslash or a control character, leaves the
 * upstream URL's last path segment or is not a sane identity.
 */
export function isPathEscapeId(decoded: string | undefined): boolean {
  if (decoded === undefined) return false;
  return decoded === '.' || decoded === '..' || /[/\\]/.test(decoded) || /[\u0000-\u001f\u007f-\u009f]/.test(decoded);
}

// --------------------------------------------------------------- OCPP frames

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function genJson(rng: Rng, depth = 3): JsonValue {
  const scalar = (): JsonValue =>
    rng.weighted<JsonValue>([
      [1, () => null],
      [1, () => rng.bool()],
      [2, () => rng.range(-1000, 100000)],
      [1, () => rng.pick([0, -0, 1e300, -1e-300, 2 ** 53, 2 ** 53 + 2, 0.1, Number.MAX_SAFE_INTEGER])],
      [3, () => rng.string(rng.range(0, 24), PRINTABLE)],
      [1, () => rng.pick(UNICODE_BITS).repeat(rng.range(1, 5))],
      [1, () => rng.pick(['2030-02-31T00:00:00Z', '2025-01-01T00:00:00Z', 'not a date', '9999-12-31T23:59:59.999Z'])],
    ]);
  if (depth <= 0 || rng.bool(0.4)) return scalar();
  if (rng.bool()) {
    const items: JsonValue[] = [];
    const count = rng.range(0, 4);
    for (let i = 0; i < count; i += 1) items.push(genJson(rng, depth - 1));
    return items;
  }
  const object: { [key: string]: JsonValue } = {};
  const count = rng.range(0, 5);
  for (let i = 0; i < count; i += 1) {
    const key = rng.bool(0.2) ? rng.pick(['__proto__', 'constructor', 'toString', '', 'idTag', 'transactionId']) : rng.string(rng.range(1, 12), SAFE_ID_CHARS);
    object[key] = genJson(rng, depth - 1);
  }
  return object;
}

const ACTIONS_16 = ['BootNotification', 'Heartbeat', 'StatusNotification', 'Authorize', 'StartTransaction', 'StopTransaction', 'MeterValues', 'DataTransfer', 'DiagnosticsStatusNotification', 'FirmwareStatusNotification'];
const ACTIONS_201 = ['BootNotification', 'Heartbeat', 'StatusNotification', 'Authorize', 'TransactionEvent', 'MeterValues', 'NotifyReport', 'DataTransfer', 'SecurityEventNotification'];

/** A payload shaped like the action's, with random holes and wrong types. */
function genPayload(rng: Rng, action: string): JsonValue {
  const badge = rng.bool(0.8) ? `B${rng.int(50)}` : (genJson(rng, 1) as JsonValue);
  const when = rng.pick(['2025-06-01T10:00:00Z', '2030-02-31T00:00:00Z', 'yesterday', 12]);
  const shaped: Record<string, () => JsonValue> = {
    BootNotification: () => ({ chargePointVendor: 'Fuzz', chargePointModel: rng.string(rng.range(0, 30), PRINTABLE) }),
    Heartbeat: () => ({}),
    StatusNotification: () => ({ connectorId: rng.pick([0, 1, 2, -1, 1e9, '1']), errorCode: 'NoError', status: rng.pick(['Available', 'Charging', 'Bogus']), timestamp: when }),
    Authorize: () => ({ idTag: badge }),
    StartTransaction: () => ({ connectorId: rng.pick([1, 2, 0, -5, 1.5]), idTag: badge, meterStart: rng.pick([0, 1000, -1, 1e300, 'x']), timestamp: when }),
    StopTransaction: () => ({ transactionId: rng.pick([1, 2, 3, 99999, -1, 'abc', 2 ** 53]), meterStop: rng.range(0, 100000), timestamp: when }),
    MeterValues: () => ({ connectorId: 1, transactionId: rng.range(0, 5), meterValue: [{ timestamp: when, sampledValue: [{ value: rng.pick(['100', '-1', 'NaN', '1e400', '']) }] }] }),
    TransactionEvent: () => ({ eventType: rng.pick(['Started', 'Updated', 'Ended', 'Nope']), timestamp: when, triggerReason: 'Authorized', seqNo: rng.pick([0, 1, -1, 2 ** 53]), transactionInfo: { transactionId: rng.string(rng.range(1, 36), SAFE_ID_CHARS) }, idToken: { idToken: badge, type: 'ISO14443' } }),
  };
  const make = shaped[action];
  if (make && rng.bool(0.7)) return make();
  return genJson(rng, 3);
}

export function genMessageId(rng: Rng): string {
  return rng.weighted<string>([
    [6, () => rng.string(rng.range(1, 36), SAFE_ID_CHARS)],
    [1, () => rng.string(rng.range(37, 200), SAFE_ID_CHARS)],
    [1, () => rng.pick(UNICODE_BITS) + rng.string(4, SAFE_ID_CHARS)],
    [1, () => ''],
  ]);
}

export interface GeneratedFrame {
  readonly data: string | Buffer;
  readonly binary: boolean;
  readonly kind: string;
}

export interface FrameGenOptions {
  readonly protocol: 'ocpp1.6' | 'ocpp2.0.1';
  /** Largest frame the gateway accepts from a station; larger ones are generated on purpose now and then. */
  readonly maxFrameBytes: number;
  /** Ids already used on this connection, so duplicates can be drawn. */
  readonly usedIds: string[];
}

/** One frame a hostile or sloppy station (or CPMS) might send. */
export function genFrame(rng: Rng, options: FrameGenOptions): GeneratedFrame {
  const actions = options.protocol === 'ocpp1.6' ? ACTIONS_16 : ACTIONS_201;
  const freshId = (): string => {
    const id = rng.bool(0.15) && options.usedIds.length > 0 ? rng.pick(options.usedIds) : genMessageId(rng);
    options.usedIds.push(id);
    if (options.usedIds.length > 64) options.usedIds.shift();
    return id;
  };
  const text = (kind: string, value: unknown): GeneratedFrame => ({ data: JSON.stringify(value), binary: false, kind });
  return rng.weighted<GeneratedFrame>([
    [6, () => {
      const action = rng.bool(0.9) ? rng.pick(actions) : rng.string(rng.range(1, 40), SAFE_ID_CHARS);
      return text('call', [2, freshId(), action, genPayload(rng, action)]);
    }],
    [2, () => text('callresult', [3, freshId(), genJson(rng, 3)])],
    [1, () => text('callerror', [4, freshId(), rng.pick(['NotImplemented', 'InternalError', 'FormationViolation', '']), rng.string(rng.range(0, 40), PRINTABLE), genJson(rng, 2)])],
    [1, () => text('send (2.1)', [6, freshId(), rng.pick(actions), genJson(rng, 2)])],
    [2, () => {
      const full = JSON.stringify([2, freshId(), rng.pick(actions), genPayload(rng, rng.pick(actions))]);
      return { data: full.slice(0, rng.int(full.length)), binary: false, kind: 'truncated JSON' };
    }],
    [1, () => {
      const depth = rng.pick([50, 500, 5000, 20000]);
      return { data: `[2,"${freshId()}","DataTransfer",${'['.repeat(depth)}${']'.repeat(depth)}]`, binary: false, kind: `nesting ${depth}` };
    }],
    [1, () => {
      const size = rng.pick([1024, 16 * 1024, Math.max(0, options.maxFrameBytes - 64)]);
      return text('huge string', [2, freshId(), 'DataTransfer', { vendorId: 'fuzz', data: 'x'.repeat(size) }]);
    }],
    [2, () =>
      text(
        'wrong types',
        rng.pick<unknown>([[], {}, null, 'text', 12, [2], [2, 5, 'Heartbeat', {}], ['2', 'id', 'Heartbeat', {}], [2, 'id'], [2, 'id', 7, {}], [2, 'id', 'Heartbeat', []], [3, null, {}], [5, 'id', {}], [2.5, 'id', 'Heartbeat', {}], [-1, 'x'], [2, { id: 1 }, 'Heartbeat', {}]]),
      )],
    [1, () => ({ data: rng.pick(['[2,"a","Heartbeat",{}] trailing', '[2,"a","Heartbeat",{}]]', '[2,"\\ud800","Heartbeat",{}]', '[2,"a\\u0000b","Heartbeat",{}]', '[2, "a" , "Heart\\u0062eat" , {"k":1e999}]', ' \n[3,"a",{}]\t', '[2,"a","Heartbeat",{"k":-}]', '[NaN]', '[Infinity]']), binary: false, kind: 'tricky JSON' })],
    [1, () => ({ data: rng.bytes(rng.range(0, 256)), binary: true, kind: 'binary' })],
    [1, () => ({ data: Buffer.concat([Buffer.from('[2,"x","DataTransfer",{"d":"'), rng.bytes(rng.range(1, 64)), Buffer.from('"}]')]), binary: false, kind: 'invalid UTF-8 text' })],
    [0.3, () => ({ data: JSON.stringify([2, freshId(), 'DataTransfer', { data: 'y'.repeat(options.maxFrameBytes + rng.range(1, 4096)) }]), binary: false, kind: 'oversize' })],
  ]);
}

// ---------------------------------------------------------------- Basic Auth

export interface GeneratedAuth {
  /** Raw header value bytes (may hold non-UTF-8), undefined for no header. */
  readonly value: Buffer | undefined;
  readonly kind: string;
}

export function genBasicAuth(rng: Rng, stationId: string, rightPassword: string): GeneratedAuth {
  const b64 = (text: string | Buffer): Buffer => Buffer.from(`Basic ${Buffer.from(text).toString('base64')}`);
  return rng.weighted<GeneratedAuth>([
    [1, () => ({ value: undefined, kind: 'none' })],
    [3, () => ({ value: b64(`${stationId}:${rng.string(rng.range(0, 40), PRINTABLE)}`), kind: 'wrong password' })],
    [1, () => ({ value: b64(`${rng.string(8, SAFE_ID_CHARS)}:${rightPassword}`), kind: 'right password, wrong user' })],
    [1, () => ({ value: b64(`${stationId}${rightPassword}`), kind: 'missing colon' })],
    [1, () => ({ value: Buffer.from(`Basic ${rng.string(rng.range(1, 40), '!@#$%^&*()_+-=[]{}|;:,.<>?~ ')}`), kind: 'malformed base64' })],
    [1, () => ({ value: Buffer.from(`Basic ${Buffer.from(`${stationId}:x`).toString('base64').replace(/=+$/, '')}`), kind: 'unpadded base64' })],
    [1, () => ({ value: Buffer.from(rng.pick(['Basic', 'Basic ', 'Bearer abc', 'basic', 'Digest username="x"', 'Basic ==', 'Basic =', 'Basic A'])), kind: 'odd scheme' })],
    [1, () => ({ value: b64(Buffer.concat([Buffer.from(`${stationId}:`), rng.bytes(rng.range(1, 32))])), kind: 'non-UTF-8 password' })],
    [1, () => ({ value: Buffer.concat([Buffer.from('Basic '), Buffer.from([0xc3, 0x28, 0xff, 0xfe])]), kind: 'non-UTF-8 header bytes' })],
    [1, () => ({ value: b64(`${stationId}:${'p'.repeat(rng.pick([1000, 10_000, 40_000]))}`), kind: 'huge' })],
    [0.5, () => ({ value: b64(`${stationId}:${rightPassword}`), kind: 'right credentials' })],
  ]);
}

// ------------------------------------------------------------------ raw HTTP

export interface RawRequest {
  /** The bytes, in the chunks they are written (a pause between chunks when `pauseMs`). */
  readonly chunks: readonly Buffer[];
  readonly pauseMs: number;
  /** After writing: end our side, or keep the socket open (an idle attacker). */
  readonly then: 'end' | 'hold';
  readonly kind: string;
  /** The station id segment in the request line, if any. */
  readonly id: WireStationId | undefined;
}

export function websocketKey(rng: Rng): string {
  return rng.bytes(16).toString('base64');
}

export interface RequestParts {
  readonly method?: string;
  readonly target: string;
  readonly version?: string;
  readonly headers: ReadonlyArray<readonly [string, string | Buffer]>;
  readonly body?: Buffer;
}

export function serializeRequest(parts: RequestParts): Buffer {
  const lines: Buffer[] = [Buffer.from(`${parts.method ?? 'GET'} ${parts.target} ${parts.version ?? 'HTTP/1.1'}\r\n`)];
  for (const [name, value] of parts.headers) lines.push(Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n'));
  lines.push(Buffer.from('\r\n'));
  if (parts.body) lines.push(parts.body);
  return Buffer.concat(lines);
}

export function upgradeHeaders(rng: Rng, port: number, protocols = 'ocpp1.6'): Array<[string, string | Buffer]> {
  return [
    ['Host', `127.0.0.1:${port}`],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', websocketKey(rng)],
    ['Sec-WebSocket-Version', '13'],
    ['Sec-WebSocket-Protocol', protocols],
  ];
}

/** A raw HTTP request toward the station listener, from fine to garbage. */
export function genRawRequest(rng: Rng, port: number, path: string, auth?: GeneratedAuth): RawRequest {
  const id = genStationId(rng);
  const headers = upgradeHeaders(rng, port, rng.pick(['ocpp1.6', 'ocpp2.0.1', 'ocpp1.6, ocpp2.0.1', 'ocpp1.5', '', 'ocpp1.6,'.repeat(200), 'ocpp2.0.1, , ,ocpp1.6']));
  if (auth?.value) headers.push(['Authorization', auth.value]);
  let target = `${path}/${id.segment}`;
  let method = 'GET';
  let version = 'HTTP/1.1';
  const mutations: string[] = [];
  const mutate = rng.range(0, 3);
  for (let i = 0; i < mutate; i += 1) {
    const m = rng.pick([
      'method', 'version', 'drop-header', 'bad-key', 'bad-version-header', 'dup-header', 'huge-header', 'target', 'lowercase-upgrade', 'obs-fold', 'ctl-in-header', 'body',
    ]);
    mutations.push(m);
    switch (m) {
      case 'method':
        method = rng.pick(['POST', 'get', 'PRI', 'CONNECT', 'OPTIONS', 'G\u0000T', 'GETX']);
        break;
      case 'version':
        version = rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', '', 'HTTP/1', 'http/1.1']);
        break;
      case 'drop-header':
        headers.splice(rng.int(headers.length), 1);
        break;
      case 'bad-key':
        headers.push(['Sec-WebSocket-Key', rng.pick(['', 'short', 'x'.repeat(100), '!!!!!!!!!!!!!!!!!!!!!!==', websocketKey(rng).replace(/=/g, '')])]);
        headers.splice(headers.findIndex(([name]) => name === 'Sec-WebSocket-Key'), 1);
        break;
      case 'bad-version-header':
        headers.push(['Sec-WebSocket-Version', rng.pick(['12', '14', '13, 8', '', 'abc'])]);
        headers.splice(headers.findIndex(([name]) => name === 'Sec-WebSocket-Version'), 1);
        break;
      case 'dup-header':
        headers.push([rng.pick(['Host', 'Upgrade', 'Sec-WebSocket-Key', 'Content-Length', 'Transfer-Encoding']), rng.pick(['websocket', 'h2c', '5', 'chunked', 'x'])]);
        break;
      case 'huge-header':
        headers.push([`X-Pad-${rng.int(1000)}`, 'z'.repeat(rng.pick([4000, 20_000, 90_000]))]);
        break;
      case 'target':
        target = rng.pick([
          `${path}//${id.segment}`,
          `//${path.slice(1)}/${id.segment}`,
          `${path.toUpperCase()}/${id.segment}`,
          `${path}/../${path.slice(1)}/${id.segment}`,
          `http://127.0.0.1:${port}${path}/${id.segment}`,
          '*',
          `${path}/${id.segment}/extra`,
          `${path}`,
          `${path}/`,
          `${path}/${id.segment}?${'q'.repeat(rng.range(1, 5000))}`,
        ]);
        break;
      case 'lowercase-upgrade':
        headers.push(['upgrade', rng.pick(['WebSocket', 'websocket, h2c', 'h2c', ''])]);
        headers.splice(headers.findIndex(([name]) => name === 'Upgrade'), 1);
        break;
      case 'obs-fold':
        headers.push(['X-Folded', 'a\r\n b']);
        break;
      case 'ctl-in-header':
        headers.push(['X-Ctl', Buffer.from([0x61, rng.pick([0x00, 0x07, 0x7f, 0x0d]), 0x62])]);
        break;
      case 'body':
        headers.push(['Content-Length', String(rng.range(0, 100))]);
        break;
    }
  }
  let bytes = serializeRequest({ method, target, version, headers, ...(mutations.includes('body') ? { body: rng.bytes(rng.range(0, 50)) } : {}) });
  const shape = rng.weighted<string>([
    [6, () => 'whole'],
    [1, () => 'garbage'],
    [1, () => 'truncated'],
    [1, () => 'pipelined'],
    [1, () => 'chunked-slow'],
  ]);
  if (shape === 'garbage') bytes = rng.bool() ? rng.bytes(rng.range(1, 2048)) : Buffer.from(rng.string(rng.range(1, 300), `${PRINTABLE}\r\n`));
  if (shape === 'truncated') bytes = bytes.subarray(0, rng.int(bytes.length));
  if (shape === 'pipelined') bytes = Buffer.concat([bytes, Buffer.from('[2,"early","Heartbeat",{}]'), serializeRequest({ target: `${path}/again`, headers: upgradeHeaders(rng, port) })]);
  const chunks: Buffer[] = [];
  if (shape === 'chunked-slow') {
    for (let at = 0; at < bytes.length; ) {
      const size = rng.range(1, 64);
      chunks.push(bytes.subarray(at, at + size));
      at += size;
      if (chunks.length >= 8) {
        chunks.push(bytes.subarray(at));
        break;
      }
    }
  } else {
    chunks.push(bytes);
  }
  return {
    chunks: chunks.filter((chunk) => chunk.length > 0),
    pauseMs: shape === 'chunked-slow' ? rng.range(1, 30) : 0,
    then: rng.bool(0.5) ? 'hold' : 'end',
    kind: [shape, ...mutations, id.kind].join('+'),
    id,
  };
}

// -------------------------------------------------------------- cloud commands

export interface GeneratedCommand {
  readonly name: string;
  readonly payload: string | Buffer;
  /** The id the ack must carry (null when the payload has no readable id). */
  readonly ackId: string | null;
  readonly kind: string;
  /** A body the gateway must refuse: the ack error code it must carry. */
  readonly mustFail?: string;
  /** The known defect that lets this invalid body through (issue 8 item 14). */
  readonly knownDefect?: number;
}

function validSchedule(rng: Rng, stationId: string): Record<string, unknown> {
  const unit = rng.pick(['A', 'W'] as const);
  const periods: Array<Record<string, unknown>> = [];
  const count = rng.range(1, 4);
  let offset = 0;
  for (let i = 0; i < count; i += 1) {
    periods.push({ startOffsetS: offset, limit: unit === 'A' ? rng.range(0, 320) / 10 : rng.range(0, 22_000), ...(rng.bool(0.3) ? { phases: rng.pick([1, 3]) } : {}) });
    offset += rng.range(60, 3600);
  }
  return {
    scheduleId: `s-${rng.string(8, SAFE_ID_CHARS)}`,
    stationId,
    connectorId: rng.range(0, 2),
    purpose: 'default',
    unit,
    ...(rng.bool(0.5) ? { validUntil: '2099-01-01T00:00:00Z' } : {}),
    periods,
  };
}

/** A `set-schedule` body that must be refused with invalid_argument, and whether a known defect accepts it. */
function invalidSchedule(rng: Rng, stationId: string): { body: Record<string, unknown>; kind: string; knownDefect?: number } {
  const body = validSchedule(rng, stationId);
  const periods = body.periods as Array<Record<string, unknown>>;
  const first = periods[0] ?? {};
  return rng.weighted<{ body: Record<string, unknown>; kind: string; knownDefect?: number }>([
    [1, () => ({ body: { ...body, startsAt: rng.pick(['2030-02-31T00:00:00Z', '2031-04-31T12:00:00Z', '2030-02-30T00:00:00+01:00']) }, kind: 'impossible startsAt', knownDefect: 14 })],
    [1, () => ({ body: { ...body, validUntil: rng.pick(['2099-02-31T00:00:00Z', '2099-06-31T00:00:00Z']) }, kind: 'impossible validUntil', knownDefect: 14 })],
    [1, () => ({ body: { ...body, periods: [{ ...first, limit: rng.pick([1e300, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2]) }] }, kind: 'absurd limit', knownDefect: 14 })],
    [1, () => ({ body: { ...body, periods: [{ ...first, limit: rng.pick([-1, Number.NaN, '16', null, 0.05]) }] }, kind: 'bad limit' })],
    [1, () => ({ body: { ...body, connectorId: rng.pick([-1, 1.5, '1', 2 ** 53, null]) }, kind: 'bad connectorId' })],
    [1, () => ({ body: { ...body, startsAt: rng.pick(['2030-01-01', 'tomorrow', 20300101, '2030-01-01T00:00:00']) }, kind: 'bad startsAt' })],
    [1, () => ({ body: { ...body, periods: [] }, kind: 'no periods' })],
    [1, () => ({ body: { ...body, periods: [{ ...first, startOffsetS: 2 ** 53 }] }, kind: 'startOffsetS 2^53' })],
    [1, () => ({ body: { ...body, unit: rng.pick(['kW', 'a', '', 5]) }, kind: 'bad unit' })],
    [1, () => ({ body: { ...body, validUntl: '2099-01-01T00:00:00Z' }, kind: 'unknown field' })],
    [1, () => ({ body: { ...body, scheduleId: 's'.repeat(129) }, kind: 'long scheduleId' })],
  ]);
}

/** A cloud command as published on `P/cmd/<name>`: well-formed, invalid, or not JSON at all. */
export function genCommand(rng: Rng, stationId: string): GeneratedCommand {
  const id = `c-${rng.string(12, SAFE_ID_CHARS)}`;
  const json = (name: string, body: Record<string, unknown>, kind: string, extra: Partial<GeneratedCommand> = {}): GeneratedCommand => ({
    name,
    payload: JSON.stringify({ id, ...body }),
    ackId: id,
    kind,
    ...extra,
  });
  return rng.weighted<GeneratedCommand>([
    [2, () => json('ping', {}, 'ping')],
    [2, () => json('set-schedule', validSchedule(rng, stationId), 'valid set-schedule')],
    [4, () => {
      const invalid = invalidSchedule(rng, stationId);
      return json('set-schedule', invalid.body, `set-schedule: ${invalid.kind}`, { mustFail: 'invalid_argument', ...(invalid.knownDefect ? { knownDefect: invalid.knownDefect } : {}) });
    }],
    [1, () => json('clear-schedule', { scheduleId: rng.pick(['s-none', '', 's'.repeat(200)]) }, 'clear-schedule')],
    [2, () => json('replace-drivers', { version: rng.range(1, 1_000_000), csv: genCsv(rng).text.toString('utf8') }, 'replace-drivers csv')],
    [1, () => json('replace-drivers', { version: rng.pick([1, -1, 1e300, 2 ** 53, '3']), drivers: genJson(rng, 3) }, 'replace-drivers junk')],
    [1, () => json(rng.pick(['nope', 'PING', 'ping ', 'é', 'set-schedule\u00a0']), {}, 'unknown command')],
    [2, () => ({ name: rng.pick(['ping', 'set-schedule', 'replace-drivers']), payload: rng.pick(['', '{', 'null', '[]', '"x"', '{"id":5}', '{"id":""}', `{"id":"${'i'.repeat(201)}"}`]), ackId: null, kind: 'unreadable' })],
    [0.3, () => ({ name: 'ping', payload: '{"id":"a","id":"b"}', ackId: 'b', kind: 'duplicate key (JSON.parse keeps the last)' })],
    [1, () => ({ name: 'ping', payload: rng.bytes(rng.range(1, 512)), ackId: null, kind: 'binary payload' })],
    [1, () => json('ping', { pad: 'p'.repeat(rng.pick([10_000, 200_000])) }, 'huge payload')],
    [1, () => json('set-schedule', { ...validSchedule(rng, stationId), periods: Array.from({ length: 1025 }, (_, i) => ({ startOffsetS: i, limit: 6 })) }, 'too many periods', { mustFail: 'invalid_argument' })],
  ]);
}

// ------------------------------------------------------------------ driver CSV

export interface GeneratedCsv {
  readonly text: Buffer;
  readonly kind: string;
  /** For a clean file, the drivers a correct import leaves (email to sorted badges). */
  readonly expected?: ReadonlyMap<string, readonly string[]>;
}

export function genCsv(rng: Rng): GeneratedCsv {
  const clean = (): GeneratedCsv => {
    const expected = new Map<string, string[]>();
    const delimiter = rng.pick([',', ';']);
    const lines = [rng.pick(['email', 'Email', 'E-mail Address']) + delimiter + rng.pick(['badge_ids', 'Badge ID(s)', 'badges'])];
    const drivers = rng.range(1, 8);
    // Badges unique across files (a clean file merged into an earlier list must not reuse another driver's badge).
    let badge = rng.int(1_000_000_000);
    for (let i = 0; i < drivers; i += 1) {
      const email = `d${i}.${rng.string(4, 'abcdefghij')}@example.com`;
      const badges: string[] = [];
      const count = rng.range(1, 3);
      for (let b = 0; b < count; b += 1) badges.push(`BADGE${(badge += 1)}`);
      expected.set(email, [...badges].sort());
      const field = badges.length === 1 ? (badges[0] ?? '') : `"${badges.join(', ')}"`;
      lines.push(`${email}${delimiter}${field}`);
    }
    return { text: Buffer.from(`${lines.join(rng.pick(['\n', '\r\n']))}\n`), kind: 'clean', expected };
  };
  return rng.weighted<GeneratedCsv>([
    [3, clean],
    [1, () => ({ text: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), clean().text]), kind: 'UTF-8 BOM', ...{ expected: undefined } })],
    [1, () => ({ text: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(clean().text.toString('utf8'), 'utf16le')]), kind: 'UTF-16 BOM' })],
    [2, () => {
      const base = clean().text.toString('utf8');
      const at = rng.int(base.length);
      const insert = rng.pick(['"', '""', '"a"b', '\u0000', '\r', '\u0007', '\u001b[31m', ',', ';', '\t', '\u2028', '\ud800', '=cmd|" /C calc"!A0', '\n\n\n']);
      return { text: Buffer.from(base.slice(0, at) + insert + base.slice(at)), kind: 'spliced' };
    }],
    [1, () => ({ text: Buffer.from(`email,badge_ids\nbig@example.com,"${'B'.repeat(rng.pick([1000, 100_000, 1_000_000]))}"\n`), kind: 'huge field' })],
    [1, () => ({ text: Buffer.from(`email,badge_ids\n${'x'.repeat(rng.pick([300, 70_000]))}@example.com,B1\n`), kind: 'huge email' })],
    [1, () => ({ text: Buffer.from(`email,badge_ids\n"unterminated@example.com,B1\nb@example.com,B2\n`), kind: 'unterminated quote' })],
    [1, () => ({ text: Buffer.concat([Buffer.from('email,badge_ids\nlatin@example.com,B'), Buffer.from([0xe9, 0xff, 0x00]), Buffer.from('\n')]), kind: 'invalid UTF-8' })],
    [1, () => ({ text: rng.bytes(rng.range(0, 600)), kind: 'random bytes' })],
    [1, () => ({ text: Buffer.from(rng.pick(['', '\n', 'email,badge_ids\n', '\ufeff', 'email;badge_ids;email\na@x.com;B1;b@x.com\n', 'a@x.com,B1\n'])), kind: 'degenerate' })],
    [1, () => ({ text: Buffer.from(`email,badge_ids\n${Array.from({ length: 2000 }, (_, i) => `m${i}@example.com,M${i}`).join('\n')}\n`), kind: 'many rows' })],
    [1, () => ({ text: Buffer.from('email,badge_ids\na@example.com,SAME\nb@example.com,same\n'), kind: 'badge on two drivers' })],
  ]);
}
