/**
 * The clock rule (docs/provisioning.md "Renewal and the clock"): at or after
 * the build-time floor, and synchronised where systemd-timesyncd runs. The
 * timesyncd folder and its `synchronized` flag are real files in a temp
 * folder; the build stamp is a real file too.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILD_TIME_FALLBACK, checkClock, readBuildStamp, readBuildTime } from '../src/provisioning/clock-plausibility.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const BUILT = new Date('2026-11-01T00:00:00Z');
const LATER = () => new Date('2026-12-24T12:00:00Z');

t.test('a clock in 1970 is implausible, whatever timesyncd says', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'timesync'));
  writeFileSync(join(dir, 'timesync', 'synchronized'), '');
  const verdict = checkClock({ now: () => new Date(0), buildTime: BUILT, synchronizedPath: join(dir, 'timesync', 'synchronized') });
  t.same(verdict.plausible, false);
  t.equal(verdict.reason, 'before-build-time');
  t.match(verdict.plausible ? '' : verdict.message, /1970-01-01T00:00:00\.000Z, before this agent was built \(2026-11-01/);
  t.equal(checkClock({ now: () => new Date(Number.NaN), buildTime: BUILT }).plausible, false, 'an invalid date is not plausible either');
  t.equal(checkClock({ now: () => new Date(BUILT.getTime() - 1), buildTime: BUILT, synchronizedPath: join(dir, 'none', 'synchronized') }).plausible, false, 'one millisecond before the build');
});

t.test('where timesyncd runs, the clock must also be synchronised', async (t) => {
  const dir = tempDir(t);
  const flag = join(dir, 'timesync', 'synchronized');
  mkdirSync(join(dir, 'timesync'));
  t.same(checkClock({ now: LATER, buildTime: BUILT, synchronizedPath: flag }), {
    plausible: false,
    reason: 'not-synchronised',
    message: `systemd-timesyncd runs but has not synchronised the clock yet (no ${flag})`,
  });
  writeFileSync(flag, '');
  t.same(checkClock({ now: LATER, buildTime: BUILT, synchronizedPath: flag }), { plausible: true, reason: 'synchronised' });
});

t.test('without timesyncd (no folder) the build-time floor alone decides', async (t) => {
  const dir = tempDir(t);
  const flag = join(dir, 'absent', 'synchronized');
  t.same(checkClock({ now: LATER, buildTime: BUILT, synchronizedPath: flag }), { plausible: true, reason: 'after-build-time' });
  t.same(checkClock({ now: () => BUILT, buildTime: BUILT, synchronizedPath: flag }), { plausible: true, reason: 'after-build-time' }, 'the build instant itself is plausible');
});

t.test('the build stamp: dist/build-info.json when there is one, never below the fallback', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'build-info.json');
  t.same(readBuildStamp(file), BUILD_TIME_FALLBACK, 'no stamp: the compiled-in fallback');
  writeFileSync(file, JSON.stringify({ builtAt: '2027-03-04T05:06:07.000Z' }));
  t.same(readBuildStamp(file), new Date('2027-03-04T05:06:07.000Z'), 'the stamp');
  writeFileSync(file, JSON.stringify({ builtAt: '1999-01-01T00:00:00Z' }));
  t.same(readBuildStamp(file), BUILD_TIME_FALLBACK, 'a build machine with a wrong clock does not lower the floor');
  writeFileSync(file, '{"builtAt":');
  t.same(readBuildStamp(file), BUILD_TIME_FALLBACK, 'a damaged stamp: the fallback');
  t.ok(readBuildTime().getTime() >= BUILD_TIME_FALLBACK.getTime(), 'from the source tree: at least the fallback');
  t.equal(checkClock({ now: () => new Date(0) }).plausible, false, 'the defaults refuse 1970');
});
