/**
 * A printed claim label as a phone sees it: `pleevi-provision label` writes
 * the SVG of a gateway registered with a known claim code, headless Chromium
 * opens that file in a phone-sized window, and zbarimg (an independent
 * decoder) must read exactly the claim link from the screenshot, and no other
 * code (agent/test/helpers/browser-qr.ts).
 */
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { browserToolsMissing, decodeQrInImage, screenshotAtPhoneSize } from '../../agent/test/helpers/browser-qr.js';
import { runProvision, tempDir } from './helpers/provision-cli.js';

// Chromium starts take 2 to 5 s each, more on a loaded machine.
t.setTimeout(180_000);

const BASE_URL = 'https://provision.example.com:8443';
const GATEWAY = 'gw-label-7f3a';
const CODE = 'K7QM-4XRT-9VWC-H2ND';

t.test('a label from pleevi-provision label, opened in Chromium at phone size, reads in zbarimg as exactly the claim link', { skip: browserToolsMissing() }, async (t) => {
  const dir = tempDir(t, 'pv-label-browser-');
  const env = { PLEEVI_PROVISION_DATA: join(dir, 'data') };
  const added = await runProvision(['gateways', 'add', GATEWAY, '--serial', 'SN-LABEL-0001', '--claim-code', CODE], env);
  t.equal(added.code, 0, added.stderr);
  const out = join(dir, 'labels');
  const labelled = await runProvision(['label', '--out', out, '--base-url', BASE_URL, GATEWAY], env);
  t.equal(labelled.code, 0, labelled.stderr);

  const svg = join(out, `${GATEWAY}.svg`);
  t.equal(statSync(svg).mode & 0o777, 0o600, 'the label is 0600 (it holds the code)');
  const text = readFileSync(svg, 'utf8');
  t.match(text, `>${GATEWAY}</text>`, 'the gateway id is printed on the label');
  t.match(text, `>${CODE}</text>`, 'and the code to type');

  const png = join(dir, 'label.png');
  await screenshotAtPhoneSize(pathToFileURL(svg).href, png);
  t.same(await decodeQrInImage(png), [`${BASE_URL}/claim?gw=${GATEWAY}&code=${CODE}`], 'one code, exactly the claim link');
});
