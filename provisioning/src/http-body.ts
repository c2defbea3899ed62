/**
 * Request bodies, bounded: a declared or actual size past the limit is 413
 * before anything is parsed, and only the content type a route expects is
 * read (415 otherwise). JSON must be an object (400 otherwise).
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export const MAX_JSON_BODY = 64 * 1024;
export const MAX_FORM_BODY = 8 * 1024;

export async function readJsonObject(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Record<string, unknown>> {
  requireType(req, 'application/json');
  const text = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'invalid_request', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

export async function readForm(req: IncomingMessage, limit = MAX_FORM_BODY): Promise<URLSearchParams> {
  requireType(req, 'application/x-www-form-urlencoded');
  return new URLSearchParams(await readBody(req, limit));
}

function requireType(req: IncomingMessage, type: string): void {
  const given = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (given !== type) throw new ApiError(415, 'unsupported_media_type', `the body must be ${type}`);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'body_too_large', `the body must be at most ${limit} bytes`);
}
