import { Readable } from 'node:stream';
import t from 'tap';
import { runCli } from './helpers/run-cli.js';
import type { CliIo } from '../src/cli/cli-io.js';
import { readFirstLine, runPasswordHash } from '../src/cli/password-hash-command.js';
import { hashPassword, isValidPasswordHash, verifyPassword } from '../src/auth/password-hash.js';

const GOOD = 'correct-horse-battery-9';

function captureIo(): { io: CliIo; stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      env: {},
    },
    stdout: () => out,
    stderr: () => err,
  };
}


t.test('hashPassword: format, parameters, fresh salt', async (t) => {
  const first = await hashPassword(GOOD);
  const second = await hashPassword(GOOD);
  t.match(first, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/, '16-byte salt, 32-byte key');
  t.not(first, second, 'a random salt per hash');
  t.ok(isValidPasswordHash(first));
  await t.rejects(hashPassword(''), RangeError);
});

t.test('verifyPassword against a hash and against a plain password', async (t) => {
  const passwordHash = await hashPassword(GOOD);
  t.equal(await verifyPassword(GOOD, { passwordHash }), true);
  t.equal(await verifyPassword(`${GOOD}x`, { passwordHash }), false);
  t.equal(await verifyPassword('', { passwordHash }), false);
  t.equal(await verifyPassword(Buffer.from(GOOD), { passwordHash }), true, 'raw header bytes work too');

  t.equal(await verifyPassword(GOOD, { password: GOOD }), true);
  t.equal(await verifyPassword(GOOD.slice(0, -1), { password: GOOD }), false, 'a prefix is not enough');
  t.equal(await verifyPassword(`${GOOD} `, { password: GOOD }), false);

  t.equal(await verifyPassword(GOOD, {}), false, 'nothing configured never matches');
  t.equal(await verifyPassword(GOOD, { passwordHash: 'scrypt$3$8$1$AAAA$AAAA' }), false, 'a malformed hash never matches');
  t.equal(await verifyPassword(GOOD, { password: GOOD, passwordHash }), true, 'the hash wins when both are given');
  t.equal(await verifyPassword(GOOD, { password: 'other', passwordHash }), true);
});

t.test('interoperable with RFC 7914 section 12 test vector 2', async (t) => {
  // scrypt(P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64)
  const derived =
    'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640';
  const stored = `scrypt$1024$8$16$${Buffer.from('NaCl').toString('base64')}$${Buffer.from(derived, 'hex').toString('base64')}`;
  t.ok(isValidPasswordHash(stored));
  t.equal(await verifyPassword('password', { passwordHash: stored }), true);
  t.equal(await verifyPassword('Password', { passwordHash: stored }), false);
});

t.test('isValidPasswordHash rejects what it cannot verify safely', async (t) => {
  const salt = Buffer.alloc(16, 1).toString('base64');
  const hash = Buffer.alloc(32, 2).toString('base64');
  t.ok(isValidPasswordHash(`scrypt$16384$8$1$${salt}$${hash}`));
  for (const [why, text] of [
    ['wrong scheme', `bcrypt$16384$8$1$${salt}$${hash}`],
    ['N not a power of two', `scrypt$10000$8$1$${salt}$${hash}`],
    ['N = 1', `scrypt$1$8$1$${salt}$${hash}`],
    ['memory above 256 MiB', `scrypt$1048576$8$1$${salt}$${hash}`],
    ['r = 0', `scrypt$16384$0$1$${salt}$${hash}`],
    ['p above 16', `scrypt$16384$8$17$${salt}$${hash}`],
    ['salt not base64', `scrypt$16384$8$1$AAA$${hash}`],
    ['hash too short', `scrypt$16384$8$1$${salt}$${Buffer.alloc(8).toString('base64')}`],
    ['missing field', `scrypt$16384$8$${salt}$${hash}`],
    ['trailing text', `scrypt$16384$8$1$${salt}$${hash}x`],
    ['empty', ''],
  ] as const) {
    t.notOk(isValidPasswordHash(text), why);
  }
});

t.test('hashing and checking run off the event loop', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const passwordHash = await hashPassword(GOOD);
  await Promise.all([1, 2, 3, 4].map(() => verifyPassword(GOOD, { passwordHash })));
  clearInterval(timer);
  t.ok(ticks > 0, `timers fired ${ticks} times while scrypt ran`);
});

t.test('readFirstLine', async (t) => {
  t.equal(await readFirstLine(Readable.from([Buffer.from('pass word \r\nsecond line\n')])), 'pass word ', 'CRLF stripped, blanks kept');
  t.equal(await readFirstLine(Readable.from([Buffer.from('ab'), Buffer.from('cd\nef')])), 'abcd', 'across chunks');
  t.equal(await readFirstLine(Readable.from([Buffer.from('no newline')])), 'no newline', 'EOF ends the line');
  t.equal(await readFirstLine(Readable.from([])), '');
  t.equal(await readFirstLine(Readable.from([Buffer.alloc(2000, 0x61)])), undefined, 'refuses a huge line');
});

t.test('password hash command in-process', async (t) => {
  const ok = captureIo();
  t.equal(await runPasswordHash([], ok.io, Readable.from([Buffer.from(`${GOOD}\n`)])), 0);
  const printed = ok.stdout().trim();
  t.ok(isValidPasswordHash(printed), printed);
  t.equal(await verifyPassword(GOOD, { passwordHash: printed }), true);
  t.equal(ok.stderr(), '', 'no warning for 16 to 40 characters');

  const short = captureIo();
  t.equal(await runPasswordHash([], short.io, Readable.from([Buffer.from('short\n')])), 0, 'a short password is a warning only');
  t.match(short.stderr(), /warning: the password has 5 characters; .*16 to 40/);
  t.ok(isValidPasswordHash(short.stdout().trim()));

  const long = captureIo();
  t.equal(await runPasswordHash([], long.io, Readable.from([Buffer.from(`${'x'.repeat(41)}\n`)])), 0);
  t.match(long.stderr(), /has 41 characters/);

  const empty = captureIo();
  t.equal(await runPasswordHash([], empty.io, Readable.from([Buffer.from('\nsomething\n')])), 2);
  t.match(empty.stderr(), /empty password/);
  t.equal(empty.stdout(), '');

  const usage = captureIo();
  t.equal(await runPasswordHash(['--salt', 'x'], usage.io, Readable.from([])), 2);
  t.match(usage.stderr(), /Usage: pleevi-edge password hash/);
});

t.test('pleevi-edge password hash as a process', async (t) => {
  const ok = await runCli(['password', 'hash'], { env: {}, input: `${GOOD}\n` });
  t.equal(ok.code, 0, ok.stderr);
  t.equal(await verifyPassword(GOOD, { passwordHash: ok.stdout.trim() }), true);
  t.notMatch(ok.stdout + ok.stderr, GOOD, 'the password is not echoed');

  const empty = await runCli(['password', 'hash'], { env: {}, input: '' });
  t.equal(empty.code, 2);
  t.match(empty.stderr, /empty password/);

  const short = await runCli(['password', 'hash'], { env: {}, input: 'pw\n' });
  t.equal(short.code, 0);
  t.match(short.stderr, /warning: the password has 2 characters/);
});
