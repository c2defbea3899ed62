/**
 * The gateway's side of the enrollment API (docs/provisioning.md "The
 * enrollment API"): `POST /v1/enroll` without a client certificate and
 * `POST /v1/renew` over mutual TLS, JSON both ways. TLS is always verified,
 * against `ca` (provisioning.ca) when given, else the system roots; an
 * explicit `rejectUnauthorized: true` also overrides
 * NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment.
 *
 * Every outcome is a value, never a throw: `enrolled`/`renewed`, `waiting`
 * (202), `refused` (403, 404 and other 4xx: the service says no; retried
 * slowly by the loops) and `retry` (429, 5xx, another 1xx-3xx status, network
 * errors, the timeout, an oversized or unreadable answer). The claim code goes out in the request
 * body only: it is scrubbed from anything the service answers before that
 * reaches a result (and so a log line or a status).
 */
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { describeError, EnrollmentError } from '../errors.js';
import { parseEnrollmentAnswer, parseRenewalAnswer, type EnrollmentAnswer, type RenewalAnswer } from './enrollment-answer.js';

export const DEFAULT_TIMEOUT_MS = 15_000;
/** A certificate, a CA bundle and a site configuration fit easily; a service gone wrong cannot fill the memory of a Pi. */
export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;
const TEXT_MAX = 200;

export interface EnrollRequest {
  readonly gatewayId: string;
  readonly serial: string;
  readonly claimCode: string;
  readonly csr: string;
  readonly lanAddresses: readonly string[];
  readonly agentVersion: string;
}

export interface RenewRequest {
  readonly csr: string;
  readonly lanAddresses: readonly string[];
}

export interface RequestOptions {
  /** PEM of the CA(s) the service's certificate must chain to; the system roots when absent. */
  readonly ca?: string;
  readonly timeoutMs?: number;
  readonly maxAnswerBytes?: number;
  /** Aborts the request (the loops' stop()); the result is then `retry`. */
  readonly signal?: AbortSignal;
}

export interface MutualTlsOptions extends RequestOptions {
  /** The gateway's current client certificate and its key (PEM). */
  readonly cert: string;
  readonly key: string;
}

export type Refused = { readonly kind: 'refused'; readonly status: number; readonly code: string; readonly message: string };
export type Retry = { readonly kind: 'retry'; readonly reason: string; readonly status?: number; readonly retryAfterS?: number };
export type EnrollResult = { readonly kind: 'enrolled'; readonly answer: EnrollmentAnswer } | { readonly kind: 'waiting'; readonly retryAfterS: number | undefined } | Refused | Retry;
export type RenewResult = { readonly kind: 'renewed'; readonly answer: RenewalAnswer } | Refused | Retry;

export async function postEnroll(serviceUrl: string, body: EnrollRequest, options: RequestOptions = {}): Promise<EnrollResult> {
  const scrub = (text: string): string => (body.claimCode === '' ? text : text.split(body.claimCode).join('[claim code]'));
  const answer = await postJson(endpoint(serviceUrl, 'v1/enroll'), body, options, scrub);
  if (answer.kind !== 'answer') return answer;
  if (answer.status === 200) {
    const parsed = parseEnrollmentAnswer(answer.json);
    return typeof parsed === 'string' ? { kind: 'retry', status: 200, reason: `unusable 200 answer: ${parsed}` } : { kind: 'enrolled', answer: parsed };
  }
  if (answer.status === 202) return { kind: 'waiting', retryAfterS: bodyRetryAfter(answer.json) ?? answer.retryAfterS };
  return classify(answer, scrub);
}

export async function postRenew(serviceUrl: string, body: RenewRequest, options: MutualTlsOptions): Promise<RenewResult> {
  const answer = await postJson(endpoint(serviceUrl, 'v1/renew'), body, options, (text) => text);
  if (answer.kind !== 'answer') return answer;
  if (answer.status === 200) {
    const parsed = parseRenewalAnswer(answer.json);
    return typeof parsed === 'string' ? { kind: 'retry', status: 200, reason: `unusable 200 answer: ${parsed}` } : { kind: 'renewed', answer: parsed };
  }
  return classify(answer, (text) => text);
}

/** `<serviceUrl>/v1/...`, keeping a path prefix of the service URL. Only https. */
export function endpoint(serviceUrl: string, path: string): URL {
  let base: URL;
  try {
    base = new URL(serviceUrl.endsWith('/') ? serviceUrl : `${serviceUrl}/`);
  } catch (error: unknown) {
    throw new EnrollmentError('service-url', `the enrollment service URL ${JSON.stringify(serviceUrl)} is not a URL`, { cause: error });
  }
  if (base.protocol !== 'https:') throw new EnrollmentError('service-url', `the enrollment service URL must be https, got ${base.protocol}`);
  return new URL(path, base);
}

interface Answer {
  readonly kind: 'answer';
  readonly status: number;
  readonly json: unknown;
  readonly retryAfterS: number | undefined;
}

function classify(answer: Answer, scrub: (text: string) => string): Refused | Retry {
  const error = serviceError(answer.json, scrub);
  const said = error === undefined ? '' : `: ${error.code}: ${error.message}`;
  if (answer.status < 400) return { kind: 'retry', status: answer.status, reason: `unexpected HTTP ${answer.status}` };
  if (answer.status === 429 || answer.status >= 500) {
    return { kind: 'retry', status: answer.status, reason: `HTTP ${answer.status}${said}`, ...(answer.retryAfterS === undefined ? {} : { retryAfterS: answer.retryAfterS }) };
  }
  return { kind: 'refused', status: answer.status, code: error?.code ?? `HTTP_${answer.status}`, message: error?.message ?? `HTTP ${answer.status}` };
}

function postJson(url: URL, body: object, options: RequestOptions & Partial<Pick<MutualTlsOptions, 'cert' | 'key'>>, scrub: (text: string) => string): Promise<Answer | Retry> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Answer | Retry): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const fail = (reason: string): void => {
      finish({ kind: 'retry', reason: scrub(reason) });
      req.destroy();
    };
    const req = request(url, {
      method: 'POST',
      agent: false,
      rejectUnauthorized: true,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': payload.length },
    });
    // One deadline for the whole exchange: a server that trickles bytes cannot hold the loop.
    const timer = setTimeout(() => fail(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    const onAbort = (): void => fail('stopped');
    if (options.signal?.aborted === true) onAbort();
    options.signal?.addEventListener('abort', onAbort);
    req.on('error', (error: NodeJS.ErrnoException) => fail(`${error.code ?? 'network error'}: ${describeError(error)}`));
    req.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        fail(`answer of ${declared} bytes is over the ${maxBytes} byte limit`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail(`answer is over the ${maxBytes} byte limit`);
        else chunks.push(chunk);
      });
      const cut = (): void => fail('the connection closed before the answer was complete');
      res.on('error', cut);
      res.on('close', () => {
        if (!res.complete) cut();
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : (JSON.parse(text) as unknown);
        } catch {
          if (status === 200 || status === 202) {
            finish({ kind: 'retry', status, reason: `HTTP ${status} with a body that is not JSON` });
            return;
          }
          json = undefined;
        }
        finish({ kind: 'answer', status, json, retryAfterS: headerRetryAfter(res.headers['retry-after']) });
      });
    });
    req.end(payload);
  });
}

/** `{"error":{"code","message"}}`, cut to a length fit for a log line and scrubbed of the claim code. */
function serviceError(json: unknown, scrub: (text: string) => string): { code: string; message: string } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const error = (json as Record<string, unknown>)['error'];
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as Record<string, unknown>;
  return {
    code: typeof code === 'string' ? scrub(code).replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) : 'unknown',
    message: typeof message === 'string' ? scrub(message).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, TEXT_MAX) : '',
  };
}

function bodyRetryAfter(json: unknown): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const value = (json as Record<string, unknown>)['retryAfterS'];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Retry-After in seconds (RFC 9110 10.2.3); the HTTP-date form is ignored, the clock may be wrong. */
function headerRetryAfter(value: string | undefined): number | undefined {
  return value !== undefined && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}
