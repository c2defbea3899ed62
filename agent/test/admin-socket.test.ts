/**
 * The admin socket's path: before it listens, the daemon removes a socket
 * file a killed daemon left behind, and nothing else. Real files, real unix
 * sockets, the admin server itself.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { adminGet } from '../src/admin/admin-client.js';
import { startAdminServer } from '../src/admin/admin-server.js';
import { GatewayError } from '../src/errors.js';
import { createLogger } from '../src/util/logger.js';

const logger = createLogger('silent');
const routes = new Map([['/v1/status', () => ({ ok: true })]]);

/** A short folder of its own: a unix socket path must fit in 107 bytes. */
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-adm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('the admin server started');
}

t.test('a regular file at admin.socket (the database, say) is left alone and the start refused', async (t) => {
  const dir = shortDir(t);
  const database = join(dir, 'pleevi-edge.db');
  writeFileSync(database, 'precious bytes');
  const error = await refusal(startAdminServer(database, routes, logger));
  t.equal(error.code, 'PE_ERR_ADMIN_SOCKET');
  t.match(error.message, `admin.socket ${database} is a regular file, not a unix socket; refusing to delete it`);
  t.equal(readFileSync(database, 'utf8'), 'precious bytes', 'the file is untouched');
});

t.test('a symlink at admin.socket is not followed and not removed, even one to a socket', async (t) => {
  const dir = shortDir(t);
  const target = join(dir, 'data.db');
  writeFileSync(target, 'precious bytes');
  const link = join(dir, 'admin.sock');
  symlinkSync(target, link);
  const error = await refusal(startAdminServer(link, routes, logger));
  t.match(error.message, 'is a symbolic link, not a unix socket');
  t.equal(readlinkSync(link), target, 'the link is still there');
  t.equal(readFileSync(target, 'utf8'), 'precious bytes', 'its target too');

  const folder = join(dir, 'state');
  mkdirSync(folder);
  t.match((await refusal(startAdminServer(folder, routes, logger))).message, 'is a folder, not a unix socket');
  t.ok(lstatSync(folder).isDirectory(), 'a folder is left alone');
});

t.test('a socket left by a killed daemon is removed and the admin API listens there', async (t) => {
  const dir = shortDir(t);
  const path = join(dir, 'admin.sock');
  // A process that binds the socket and dies without unlinking it, as a SIGKILLed daemon does.
  const killed = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  t.equal(killed.signal, 'SIGKILL');
  t.ok(lstatSync(path).isSocket(), 'a stale socket file is left behind');

  const server = await startAdminServer(path, routes, logger);
  t.teardown(() => void server.close());
  t.same(await adminGet(path, '/v1/status'), { ok: true }, 'the new admin API answers on the path');
});

t.test('a socket that another daemon still answers on is not taken over', async (t) => {
  const dir = shortDir(t);
  const path = join(dir, 'admin.sock');
  const running = createServer((socket) => {
    // The probe hangs up at once: a reset here is expected.
    socket.on('error', () => undefined);
    socket.end('still here');
  });
  running.listen(path);
  await once(running, 'listening');
  t.teardown(() => void running.close());

  const error = await refusal(startAdminServer(path, routes, logger));
  t.equal(error.code, 'PE_ERR_ADMIN_SOCKET');
  t.match(error.message, 'another pleevi-edge daemon is running and answers on it');
  t.ok(lstatSync(path).isSocket(), 'its socket is still there');
  const connection = connect(path);
  const [greeting] = (await once(connection, 'data')) as [Buffer];
  t.equal(greeting.toString(), 'still here', 'and it still answers');
  connection.destroy();
});
