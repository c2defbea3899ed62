/**
 * A stand-in for the enrollment service, for the gateway's client tests: a
 * real HTTPS server on port 0 (certificate from its own test CA) that asks
 * for a client certificate without requiring one, and answers each request
 * with whatever the test's handler returns. It implements none of the
 * service's logic (that is provisioning/'s job); the tests script the few
 * answers they need. `signCsr` is the service's CA at work: it issues a
 * certificate for the public key of a CSR.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import type { Test } from 'tap';
import { issueServerCert, type CertificateAuthority } from './certs.js';

const { pki } = forge;

export interface RecordedRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** Serial number (hex, upper case) of the client certificate presented, if any. */
  readonly clientSerial: string | undefined;
  readonly at: number;
}

export type ScriptedAnswer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string>; readonly raw?: string }
  /** Never answers (the client's timeout is tested). */
  | 'hang'
  /** Promises 5000 bytes, sends 100 and closes the connection. */
  | 'cut';

export type Handler = (request: RecordedRequest, index: number) => ScriptedAnswer | Promise<ScriptedAnswer>;

export interface TestService {
  readonly url: string;
  readonly requests: RecordedRequest[];
  setHandler(handler: Handler): void;
}

export async function startTestService(t: Test, serviceCa: CertificateAuthority, handler: Handler): Promise<TestService> {
  const tls = await issueServerCert(serviceCa);
  const requests: RecordedRequest[] = [];
  let current = handler;
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer({ cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: false }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const recorded: RecordedRequest = {
          path: req.url ?? '',
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          clientSerial: peer && typeof peer.serialNumber === 'string' && peer.serialNumber !== '' ? peer.serialNumber.toUpperCase() : undefined,
          at: Date.now(),
        };
        requests.push(recorded);
        const answer = await current(recorded, requests.length - 1);
        if (answer === 'hang') {
          hanging.add(res);
          return;
        }
        if (answer === 'cut') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
          res.write('{'.padEnd(100, ' '), () => res.socket?.destroy());
          return;
        }
        const text = answer.raw ?? (answer.body === undefined ? '' : JSON.stringify(answer.body));
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(text);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `https://127.0.0.1:${address.port}`,
    requests,
    setHandler: (next) => {
      current = next;
    },
  };
}

export interface IssueOptions {
  readonly usage?: 'clientAuth' | 'serverAuth' | 'none';
  /** Defaults to the CSR's CN. */
  readonly commonName?: string;
  readonly notBefore?: Date;
  readonly lifetimeMs?: number;
}

/** A certificate for the CSR's public key, signed by `ca`. */
export function signCsr(ca: CertificateAuthority, csrPem: string, options: IssueOptions = {}): string {
  const csr = pki.certificationRequestFromPem(csrPem);
  const caCert = pki.certificateFromPem(ca.cert);
  const cert = pki.createCertificate();
  cert.publicKey = csr.publicKey as forge.pki.rsa.PublicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const notBefore = options.notBefore ?? new Date(Date.now() - 5 * 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + (options.lifetimeMs ?? 90 * 24 * 3600_000));
  const commonName = options.commonName ?? String(csr.subject.getField('CN')?.value ?? '');
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const usage = options.usage ?? 'clientAuth';
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ...(usage === 'none' ? [] : [{ name: 'extKeyUsage', [usage]: true }]),
  ]);
  cert.sign(pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return pki.certificateToPem(cert);
}

/** Node's serial number form (hex, upper case, no leading zero byte dropped) of a PEM certificate. */
export function serialOf(pem: string): string {
  return pki.certificateFromPem(pem).serialNumber.toUpperCase();
}
