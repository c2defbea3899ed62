/**
 * The enrollment API over HTTPS (docs/provisioning.md "The enrollment API")
 * and the claim page. The TLS layer asks every caller for a client
 * certificate but requires none: only /v1/renew needs one, and it checks the
 * verdict itself (req.socket.authorized, the peer certificate's CN and
 * serial). Logs carry the path, never the query (the claim page's URL holds
 * the code), and never a body or a header.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../agent/src/util/logger.js';
import { claimGateway } from './claims.js';
import { CLAIM_PAGE_HEADERS, claimFormPage, claimResultPage } from './claim-page.js';
import { buildCrlPem, type RevokedEntry } from './crl.js';
import { enroll, renew } from './enrollment.js';
import { ApiError } from './errors.js';
import { putPreauthorization } from './gateways.js';
import { readForm, readJsonObject } from './http-body.js';
import { isSerial, isSiteId } from './names.js';
import type { ServiceContext } from './service-context.js';
import { getSite, listSites } from './sites.js';
import { tokenRole, type TokenRole } from './tokens.js';

export interface ServerTls {
  readonly key: string;
  readonly cert: string;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export function createProvisionServer(context: ServiceContext, tls: ServerTls, logger: Logger): Server {
  const ca = context.ca;
  if (ca === undefined) throw new Error('the server needs the CA');
  const server = createServer(
    {
      key: tls.key,
      cert: tls.cert,
      ca: [ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      // A slow or silent client cannot hold a socket: headers in 10 s, the whole request in 30 s.
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      const started = Date.now();
      const path = new URL(req.url ?? '/', 'https://service.invalid').pathname;
      handle(context, req, res, path)
        .catch((error: unknown) => {
          const apiError = error instanceof ApiError ? error : new ApiError(500, 'internal', 'internal error');
          if (!(error instanceof ApiError)) logger.error({ err: error, path }, 'request failed');
          if (!res.headersSent) sendError(res, apiError, path === '/claim');
        })
        .finally(() => {
          logger.info({ method: req.method, path, status: res.statusCode, ms: Date.now() - started, client: req.socket.remoteAddress }, 'request');
        });
    },
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A TLS handshake that never completes also ends.
  server.on('secureConnection', (socket) => socket.setTimeout(60_000, () => socket.destroy()));
  server.on('tlsClientError', () => undefined);
  return server;
}

async function handle(context: ServiceContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const route = ROUTES[path];
  if (route === undefined) throw new ApiError(404, 'not_found', 'no such resource');
  const handler = route[method];
  if (handler === undefined) {
    res.setHeader('allow', Object.keys(route).join(', '));
    throw new ApiError(405, 'method_not_allowed', `${path} does not take ${method}`);
  }
  await handler(context, req, res);
}

type Handler = (context: ServiceContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

const ROUTES: Readonly<Record<string, Readonly<Record<string, Handler>>>> = {
  '/v1/claims': {
    POST: async (context, req, res) => {
      requireRole(context, req, 'installer');
      const body = await readJsonObject(req);
      const result = claimGateway(context, { gatewayId: body.gatewayId, claimCode: body.claimCode, siteId: body.siteId, clientAddress: clientAddress(req) });
      sendJson(res, 201, result);
    },
  },
  '/v1/preauthorizations': {
    POST: async (context, req, res) => {
      requireRole(context, req, 'operator');
      const body = await readJsonObject(req);
      if (!isSerial(body.serial)) throw new ApiError(400, 'invalid_request', 'serial must be 1 to 128 printable ASCII characters');
      if (!isSiteId(body.siteId)) throw new ApiError(400, 'invalid_request', 'siteId must be 1 to 64 characters from A-Z a-z 0-9 . _ -');
      if (getSite(context.db, body.siteId) === undefined) throw new ApiError(404, 'site_not_found', `no site ${body.siteId}`);
      putPreauthorization(context.db, body.serial, body.siteId, context.clock());
      sendJson(res, 201, { serial: body.serial, siteId: body.siteId });
    },
  },
  '/v1/enroll': {
    POST: async (context, req, res) => {
      const answer = enroll(context, await readJsonObject(req), clientAddress(req));
      if (answer.status === 202) res.setHeader('retry-after', String(answer.body.retryAfterS));
      sendJson(res, answer.status, answer.body);
    },
  },
  '/v1/renew': {
    POST: async (context, req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const commonName = typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
      const body = await readJsonObject(req);
      const result = renew(context, { authorized: socket.authorized, ...(commonName !== undefined ? { commonName } : {}), ...(peer.serialNumber ? { serialNumber: peer.serialNumber } : {}) }, body);
      sendJson(res, 200, result);
    },
  },
  '/v1/crl': {
    GET: async (context, _req, res) => {
      const rows = context.db
        .prepare('SELECT serial, revoked_at AS revokedAt FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ? ORDER BY revoked_at')
        .all(context.clock()) as RevokedEntry[];
      const pem = buildCrlPem(context.ca as NonNullable<ServiceContext['ca']>, rows, context.clock());
      res.writeHead(200, { 'content-type': 'application/x-pem-file', 'cache-control': 'no-store' });
      res.end(pem);
    },
  },
  '/claim': {
    GET: async (context, req, res) => {
      const query = new URL(req.url ?? '/', 'https://service.invalid').searchParams;
      const html = claimFormPage(query.get('gw') ?? '', query.get('code') ?? '', listSites(context.db).map((site) => site.id));
      res.writeHead(200, CLAIM_PAGE_HEADERS);
      res.end(html);
    },
    POST: async (context, req, res) => {
      const form = await readForm(req);
      const role = tokenRole(context.db, form.get('token') ?? '');
      if (role === undefined) {
        res.writeHead(401, CLAIM_PAGE_HEADERS);
        res.end(claimResultPage(false, 'The installer token was not accepted.'));
        return;
      }
      const result = claimGateway(context, { gatewayId: form.get('gw') ?? '', claimCode: form.get('code') ?? '', siteId: form.get('site') ?? '', clientAddress: clientAddress(req) });
      res.writeHead(201, CLAIM_PAGE_HEADERS);
      res.end(claimResultPage(true, `Gateway ${result.gatewayId} is claimed for site ${result.siteId}. It receives its certificate and configuration at its next enrollment attempt.`));
    },
  },
};

function requireRole(context: ServiceContext, req: IncomingMessage, needed: TokenRole): void {
  const match = /^Bearer ([\x21-\x7e]{1,256})$/.exec(req.headers.authorization ?? '');
  const role = match?.[1] !== undefined ? tokenRole(context.db, match[1]) : undefined;
  if (role === undefined) throw new ApiError(401, 'unauthorized', 'a valid bearer token is required');
  if (needed === 'operator' && role !== 'operator') throw new ApiError(403, 'forbidden', 'this call needs an operator token');
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, JSON_HEADERS);
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: ApiError, asPage: boolean): void {
  if (error.retryAfterS !== undefined) res.setHeader('retry-after', String(error.retryAfterS));
  // A body that was refused unread: close the connection rather than read the rest.
  if (error.status === 413) res.setHeader('connection', 'close');
  if (asPage && error.status !== 405) {
    res.writeHead(error.status, CLAIM_PAGE_HEADERS);
    res.end(claimResultPage(false, error.message));
    return;
  }
  res.writeHead(error.status, JSON_HEADERS);
  res.end(JSON.stringify({ error: { code: error.code, message: error.message } }));
}
