import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { describeError } from '../errors.js';
import type { TlsFiles } from '../config/gateway-config.js';
import { UpdateRefusedError } from './update-error.js';

export interface DownloadOptions {
  /** The gateway's client certificate and key (its cloud identity), and the cloud's CA besides the system roots. */
  readonly tls: TlsFiles;
  readonly maxBytes: number;
  /** The whole download, from the request to the last byte. */
  readonly timeoutMs: number;
}

/**
 * GET `url` over HTTPS with the gateway's client certificate (mutual TLS).
 * The server is always verified: against the system roots plus the cloud's
 * CA when one is configured; there is no switch to turn that off. No
 * redirects, no plain HTTP, at most `maxBytes`. Failures are
 * `download_failed` refusals.
 */
export function downloadOverHttps(url: string, options: DownloadOptions): Promise<Buffer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new UpdateRefusedError('download_failed', `not a URL: ${url}`));
  }
  if (target.protocol !== 'https:') return Promise.reject(new UpdateRefusedError('download_failed', `updates are fetched over https:// only, not ${target.protocol}`));
  const { tls } = options;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const fail = (message: string, cause?: unknown): void => {
      clearTimeout(timer);
      reject(new UpdateRefusedError('download_failed', `${url}: ${message}`, cause === undefined ? undefined : { cause }));
    };
    const req = request(
      target,
      {
        method: 'GET',
        ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls.ca !== undefined ? { ca: [...rootCertificates, tls.ca] } : {}),
        rejectUnauthorized: true,
        agent: false,
      },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          fail(`HTTP ${response.statusCode ?? '?'}`);
          return;
        }
        const announced = Number(response.headers['content-length']);
        if (Number.isFinite(announced) && announced > options.maxBytes) {
          req.destroy();
          fail(`${announced} bytes is over the limit of ${options.maxBytes}`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            req.destroy();
            fail(`more than the limit of ${options.maxBytes} bytes`);
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(timer);
          if (response.complete) resolve(Buffer.concat(chunks));
          else fail('the download was cut short');
        });
        response.on('error', (error) => fail(describeError(error), error));
      },
    );
    timer = setTimeout(() => {
      req.destroy();
      fail(`not complete within ${Math.round(options.timeoutMs / 1000)} s`);
    }, options.timeoutMs);
    req.on('error', (error) => fail(describeError(error), error));
    req.end();
  });
}
