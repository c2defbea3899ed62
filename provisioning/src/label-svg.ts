/**
 * A gateway's claim label as SVG: the claim QR (agent/src/provisioning/
 * claim-qr.ts, the same drawing as `pleevi-edge provision qr --svg`), the
 * gateway id and the code to type when the QR cannot be scanned.
 */
import { claimQrAsSvg } from '../../agent/src/provisioning/claim-qr.js';
import { claimUrl } from '../../agent/src/provisioning/claim-url.js';
import { escapeHtml } from './claim-page.js';

const WIDTH = 260;
const QR_SIZE = 220;

export async function claimLabelSvg(baseUrl: string, gatewayId: string, claimCode: string): Promise<string> {
  const url = claimUrl(baseUrl, gatewayId, claimCode) ?? '';
  const qr = (await claimQrAsSvg(url)).trim().replace(/^<svg /, `<svg x="20" y="10" width="${QR_SIZE}" height="${QR_SIZE}" `);
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="300" viewBox="0 0 ${WIDTH} 300">
<rect width="${WIDTH}" height="300" fill="#fff"/>
${qr}
<text x="${WIDTH / 2}" y="252" font-family="monospace" font-size="14" text-anchor="middle">${escapeHtml(gatewayId)}</text>
<text x="${WIDTH / 2}" y="278" font-family="monospace" font-size="16" font-weight="bold" text-anchor="middle">${escapeHtml(claimCode)}</text>
</svg>
`;
}
