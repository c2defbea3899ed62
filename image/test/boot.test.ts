import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, runProvision, startService, type RunningService } from '../../provisioning/test/helpers/provision-cli.js';
import { BOOT_1_6, connectStation, startCpms, type RpcPeer } from '../../agent/test/helpers/ocpp-peers.js';
import { ROOT } from '../../agent/test/helpers/run-cli.js';

/**
 * The boot test of the appliance image (docs/image.md): build the amd64 image
 * with image/build.sh, boot it in qemu (software emulation), and check from the
 * outside what an installer and a support engineer would see: the claim QR on
 * the serial console, the LAN page, SSH with keys only, the firewall, `status`,
 * and a claim through the reference enrollment service followed by a station
 * relayed to a CPMS on this machine. qemu's user networking: the guest reaches
 * this machine as 10.0.2.2 (its 127.0.0.1) and nothing else is used.
 *
 * Not part of `npm test` (.taprc's include): `npm run test:image`, as root.
 */

t.setTimeout(3_600_000);

const GUEST_HOST = '10.0.2.2';
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const OUT = join(ROOT, 'image/out');

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r/g, '');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor<T>(what: string, limitMs: number, probe: () => Promise<T | undefined> | T | undefined, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A small SNTP server on this machine's UDP 123 (the guest's 10.0.2.2:123):
 * the image's timesyncd must synchronise before the gateway trusts its clock
 * and enrolls (docs/provisioning.md "Renewal and the clock").
 */
function startSntp(): Promise<{ requests: () => number; close: () => void }> {
  const socket = createSocket('udp4');
  let requests = 0;
  const ntpNow = (buffer: Buffer, offset: number): void => {
    const ms = Date.now();
    buffer.writeUInt32BE(Math.floor(ms / 1000) + 2_208_988_800, offset);
    buffer.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32), offset + 4);
  };
  socket.on('message', (request, peer) => {
    if (request.length < 48) return;
    requests += 1;
    const answer = Buffer.alloc(48);
    answer[0] = (0 << 6) | (4 << 3) | 4; // no leap warning, NTPv4, server
    answer[1] = 2; // stratum
    answer[2] = request[2] ?? 6; // poll
    answer[3] = 0xec; // precision 2^-20
    answer.writeUInt32BE(0x00000010, 4); // root delay
    answer.writeUInt32BE(0x00000010, 8); // root dispersion
    answer.write('LOCL', 12, 'ascii');
    ntpNow(answer, 16); // reference
    request.copy(answer, 24, 40, 48); // origin = the client's transmit
    ntpNow(answer, 32); // receive
    ntpNow(answer, 40); // transmit
    socket.send(answer, peer.port, peer.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(123, '127.0.0.1', () => resolve({ requests: () => requests, close: () => socket.close() }));
  });
}

interface Guest {
  readonly child: ChildProcess;
  readonly startedAt: number;
  console(): string;
  /** When a line matching the pattern first appeared on the console. */
  seen(pattern: RegExp): number | undefined;
}

function bootGuest(image: string, ports: { ssh: number; http: number; probe: number }, workDir: string): Guest {
  const ovmfCode = ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_CODE.fd'].find(existsSync);
  const ovmfVars = ['/usr/share/OVMF/OVMF_VARS_4M.fd', '/usr/share/OVMF/OVMF_VARS.fd'].find(existsSync);
  const firmware: string[] = [];
  if (ovmfCode !== undefined && ovmfVars !== undefined && process.env.PLEEVI_IMAGE_BOOT === 'uefi') {
    // UEFI firmware, then the image's own systemd-boot, kernel and initrd: the path a PC takes.
    const vars = join(workDir, 'OVMF_VARS.fd');
    copyFileSync(ovmfVars, vars);
    firmware.push('-drive', `if=pflash,format=raw,readonly=on,file=${ovmfCode}`, '-drive', `if=pflash,format=raw,file=${vars}`);
  } else {
    const base = join(OUT, `pleevi-edge-${VERSION}-amd64`);
    // Emulated on a busy machine, one boot step can take minutes: systemd's 90 s limits for a
    // device (the serial port) and a unit start (the agent's READY) are raised for this VM only.
    const cmdline = `${readFileSync(`${base}.cmdline`, 'utf8').trim().replace('console=tty1 ', '')} systemd.default_device_timeout_sec=900 systemd.default_timeout_start_sec=900`;
    firmware.push('-kernel', `${base}.vmlinuz`, '-initrd', `${base}.initrd`, '-append', cmdline);
  }
  const hostfwd = [`hostfwd=tcp:127.0.0.1:${ports.ssh}-:22`, `hostfwd=tcp:127.0.0.1:${ports.http}-:8080`, `hostfwd=tcp:127.0.0.1:${ports.probe}-:9999`].join(',');
  const args = [
    '-accel', 'tcg', '-cpu', 'max', '-smp', '2', '-m', '1024',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    ...firmware,
    '-drive', `file=${image},format=raw,if=virtio,snapshot=on`,
    '-netdev', `user,id=lan,${hostfwd}`, '-device', 'virtio-net-pci,netdev=lan',
  ];
  const startedAt = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  let text = '';
  const firstSeen = new Map<string, number>();
  // The serial console, also kept in a file beside the image for whoever reads a failure.
  const consoleLog = createWriteStream(join(OUT, 'boot-test-console.log'));
  child.on('exit', () => consoleLog.end());
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    text = stripAnsi(raw);
    consoleLog.write(chunk);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
  return {
    child,
    startedAt,
    console: () => text,
    seen: (pattern) => {
      const key = pattern.source;
      const known = firstSeen.get(key);
      if (known !== undefined) return known;
      if (!pattern.test(text)) return undefined;
      const now = Date.now();
      firstSeen.set(key, now);
      return now;
    },
  };
}

function ssh(key: string, port: number, command: string, extra: readonly string[] = []): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    'ssh',
    ['-i', key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=30', ...extra, 'root@127.0.0.1', command],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.setTimeout(20_000, () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** Connects to a forwarded port and reports whether the guest's service answered within the time. */
function probeAnswers(port: number, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('probe-answer')) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(data.includes('probe-answer')));
    setTimeout(() => done(false), waitMs);
  });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

t.test('the amd64 image boots unclaimed, is locked down, and relays once claimed', async (t) => {
  if (process.getuid?.() !== 0) {
    t.plan(0, 'image/build.sh and the SNTP port need root');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'pleevi-boot-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // The cloud on this machine: the enrollment service with its CA, a site whose CPMS is here too.
  const figures: string[] = [];
  const bootNotifications: number[] = [];
  const cpms = await startCpms({
    onClient: (client) =>
      client.handle('BootNotification', () => {
        bootNotifications.push(Date.now());
        return { status: 'Accepted', currentTime: new Date().toISOString(), interval: 300 };
      }),
  });
  t.teardown(() => cpms.close());
  const data = join(work, 'provision');
  const run = async (args: string[]): Promise<string> => {
    const result = await runProvision([...args, '--data', data]);
    if (result.code !== 0) throw new Error(`pleevi-provision ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  await run(['ca', 'init', '--cn', 'Boot test provisioning CA']);
  const site = join(work, 'site.json');
  writeFileSync(site, JSON.stringify({ upstream: { url: `ws://${GUEST_HOST}:${cpms.port}/ocpp` } }));
  await run(['sites', 'add', 'depot-qemu', '--config', site]);
  const installer = (await run(['tokens', 'add', '--role', 'installer'])).trim();
  const service: RunningService = await startService(t, data, ['--san', GUEST_HOST, '--retry-after-s', '2']);
  const caPem = readFileSync(join(data, 'ca.crt'), 'utf8');
  const sntp = await startSntp();
  t.teardown(() => sntp.close());

  // The image, built for this cloud: what an operator's build for a site looks like.
  const key = join(work, 'id_ed25519');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'boot-test', '-f', key]);
  const buildStart = Date.now();
  const build = spawnSync(
    join(ROOT, 'image/build.sh'),
    ['--arch', 'amd64', '--provisioning-url', `https://${GUEST_HOST}:${service.port}`, '--provisioning-ca', join(data, 'ca.crt'), '--ssh-key', `${key}.pub`, '--ntp', GUEST_HOST],
    { encoding: 'utf8', timeout: 3_000_000, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } },
  );
  t.equal(build.status, 0, 'image/build.sh --arch amd64 succeeds', { stderr: build.stderr.slice(-3000) });
  if (build.status !== 0) return;
  const buildMs = Date.now() - buildStart;
  for (const line of build.stdout.trim().split('\n')) if (!line.startsWith('  install.sh')) t.comment(line);
  const image = join(OUT, `pleevi-edge-${VERSION}-amd64.img`);
  figures.push(`build ${seconds(buildMs)}`, `image ${(readFileSync(image).length / 2 ** 20).toFixed(0)} MiB (sparse on disk)`);

  // Power on.
  const ports = { ssh: await freePort(), http: await freePort(), probe: await freePort() };
  const guest = bootGuest(image, ports, work);
  t.teardown(() => {
    guest.child.kill('SIGKILL');
  });
  const exited = new Promise<number | null>((resolve) => guest.child.once('exit', resolve));
  void exited.then((code) => {
    if (code !== null && code !== 0) t.comment(`qemu exited ${code}`);
  });

  // READY: pleevi-edge.service is Type=notify, so systemd calls it active when the agent sent READY=1.
  // Its monotonic time of that moment and the guest's uptime give when it happened on this machine's clock.
  const readyAt = await waitFor('pleevi-edge.service active (READY=1), asked over ssh', 1_200_000, () => {
    const probe = ssh(key, ports.ssh, 'systemctl is-active pleevi-edge && systemctl show -P ActiveEnterTimestampMonotonic pleevi-edge && cut -d" " -f1 /proc/uptime', ['-o', 'ConnectTimeout=10']);
    const [state, enteredUs, uptimeS] = probe.stdout.trim().split('\n');
    if (probe.code !== 0 || state !== 'active' || enteredUs === undefined || uptimeS === undefined) return undefined;
    return Date.now() - (Number(uptimeS) * 1000 - Number(enteredUs) / 1000);
  }, 5000);
  t.pass(`the agent told systemd READY ${seconds(readyAt - guest.startedAt)} after power-on`);
  figures.push(`power-on to READY ${seconds(readyAt - guest.startedAt)}`);

  // The claim QR on the console: getty's prompt with the snippet, redrawn once the agent wrote it.
  const claimLine = await waitFor('the claim snippet on the serial console', 600_000, () => {
    const match = /claim code\s+([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})/.exec(guest.console());
    return match?.[1];
  });
  const consoleText = guest.console();
  const gatewayId = /Pleevi Edge gateway (\S+) is not claimed yet\./.exec(consoleText)?.[1] ?? '';
  t.match(gatewayId, /^gw-[0-9a-f]{32}$/, 'the console names the gateway (id from /etc/machine-id: qemu has no hardware serial the service user can read)');
  t.match(consoleText, /\u2580|\u2584|\u2588/, 'the console shows the QR code (half-block characters)');
  t.match(consoleText, new RegExp(`https://${GUEST_HOST.replace(/\./g, '\\.')}:${service.port}/claim\\?gw=${gatewayId}&code=${claimLine}`), 'and the claim link');
  t.match(consoleText, new RegExp(`pleevi-gw-${gatewayId.slice(-4)} login:`), 'getty shows the first-boot hostname pleevi-gw-<last 4 of the serial>');
  t.comment(`serial console, the claim snippet:\n${consoleText.slice(consoleText.lastIndexOf('is not claimed yet') - 60).split('\n').slice(0, 40).join('\n')}`);

  // The LAN page on the forwarded 8080.
  const page = await httpGet(`http://127.0.0.1:${ports.http}/`);
  t.equal(page.status, 200, 'GET / on port 8080 answers the LAN page');
  t.match(page.body, gatewayId, 'the LAN page names the gateway');
  t.match(page.body, '<svg', 'with the claim QR code');

  // SSH: keys only.
  const password = ssh(key, ports.ssh, 'true', ['-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes']);
  t.not(password.code, 0, 'ssh with a password is refused');
  t.match(password.stderr, 'Permission denied (publickey)', 'the server offers public keys only');
  const facts = ssh(key, ports.ssh, 'hostname; ls /etc/ssh/ssh_host_*_key | wc -l; cat /etc/machine-id; systemctl is-active nftables ssh avahi-daemon systemd-timesyncd pleevi-edge; test -e /run/systemd/timesync/synchronized && echo synchronized; journalctl -b -u pleevi-firstboot -o cat | grep pleevi-firstboot');
  t.equal(facts.code, 0, 'ssh with the build\'s key (--ssh-key) works', { stderr: facts.stderr });
  const lines = facts.stdout.trim().split('\n');
  t.equal(lines[0], `pleevi-gw-${gatewayId.slice(-4)}`, 'hostname from the serial the agent uses');
  t.ok(Number(lines[1]) >= 2, 'SSH host keys were made on this boot (none are in the image)');
  t.equal(`gw-${lines[2]}`, gatewayId, 'machine-id made at the first boot is the gateway\'s serial here');
  t.same(lines.slice(3, 8), ['active', 'active', 'active', 'active', 'active'], 'nftables, ssh, avahi, timesyncd and the agent are active');
  t.equal(lines[8], 'synchronized', 'timesyncd synchronised with the NTP server given at build time (--ntp)');
  t.comment(`first boot: ${lines.slice(9).join(' | ')}`);

  const status = ssh(key, ports.ssh, 'pleevi-edge status');
  t.equal(status.code, 0, 'pleevi-edge status inside the guest');
  t.match(status.stdout, 'WAITING TO BE CLAIMED', 'status: waiting to be claimed');
  t.comment(`pleevi-edge status:\n${status.stdout.trim()}`);

  // The firewall: a service listening on 9999 in the guest is not reachable from the LAN.
  const listener = ssh(key, ports.ssh, `systemd-run --unit=probe9999 --quiet /usr/bin/node -e "require('net').createServer((s)=>s.end('probe-answer')).listen(9999)"; sleep 3; node -e "const s=require('net').connect(9999,'127.0.0.1');s.on('data',(d)=>{process.stdout.write(String(d));s.end()})"`);
  t.match(listener.stdout, 'probe-answer', 'a test service listens on 9999 inside the guest (answers on loopback)');
  t.notOk(await probeAnswers(ports.probe, 8000), 'from the LAN, port 9999 gets no answer: the firewall drops it');
  const ruleset = ssh(key, ports.ssh, 'nft list ruleset');
  t.match(ruleset.stdout, /policy drop;[\s\S]*tcp dport \{ 22, 8080, 8443 \} accept/, 'nft: input policy drop, 22/8080/8443 accepted');

  // The claim, as the installer app does it, then a station through the gateway to the CPMS here.
  // The service learns of a gateway at its first enroll call: claim once it has called.
  await waitFor('the gateway\'s first enroll call at the service', 300_000, async () => {
    const listed = await runProvision(['list', '--json', '--data', data]);
    return listed.stdout.includes(gatewayId) ? true : undefined;
  }, 2000);
  const claimedAt = Date.now();
  const claim = await call(service, caPem, { path: '/v1/claims', token: installer, body: { gatewayId, claimCode: claimLine, siteId: 'depot-qemu' } });
  t.equal(claim.status, 201, 'the installer claims the gateway at the enrollment service', { body: claim.text });
  const station: RpcPeer = await waitFor('a station admitted by the enrolled gateway', 300_000, async () => {
    try {
      return await connectStation({ endpoint: `ws://127.0.0.1:${ports.http}/ocpp`, identity: 'QEMU-CP-1', callTimeoutMs: 30_000 });
    } catch {
      return undefined;
    }
  }, 300);
  t.teardown(() => station.close({ force: true }));
  const answer = (await station.call('BootNotification', BOOT_1_6)) as { status?: string };
  t.equal(answer.status, 'Accepted', 'the station\'s BootNotification went through the gateway to the CPMS and back');
  const firstBoot = bootNotifications[0];
  t.ok(firstBoot !== undefined, 'the CPMS on this machine received it');
  if (firstBoot !== undefined) figures.push(`claim to first proxied BootNotification ${seconds(firstBoot - claimedAt)}`);
  t.equal(cpms.handshakes[0]?.identity, 'QEMU-CP-1', 'with the station\'s own id');
  const claimed = ssh(key, ports.ssh, 'pleevi-edge status; cat /var/lib/pleevi-edge/console/pleevi-edge.issue');
  t.match(claimed.stdout, 'is claimed.', 'the console snippet now says claimed, with the station URL');
  t.notMatch(claimed.stdout, claimLine, 'and no longer holds the claim code');
  await waitFor('the console redrawn with the claimed snippet', 120_000, () => (/is claimed\./.test(guest.console()) ? true : undefined));
  t.pass('getty redrew the console with the claimed snippet (pleevi-edge-issue.path)');
  t.ok(sntp.requests() > 0, 'the guest asked the NTP server here');

  t.comment(`figures: ${figures.join('; ')}`);
  ssh(key, ports.ssh, 'systemctl poweroff');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
});
