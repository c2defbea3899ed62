import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The gateway's page on the site LAN, `http://<gateway-ip>:<listen.port>/`
 * (docs/provisioning.md "The LAN page"). Unclaimed, it shows what the
 * installer needs to claim the gateway: the QR code, the gateway id and the
 * claim code to type. Claimed, it shows only what is not secret: the state
 * and the station URL to enter on each station (the "new WebSocket URL" of
 * the onboarding guide). It reloads itself, so the installer watches the
 * claim go through on the same screen.
 */
export type LanPageView =
  | {
      readonly kind: 'unclaimed';
      readonly gatewayId: string;
      readonly version: string;
      readonly claimCode: string;
      readonly claimUrl?: string;
      /** The claim URL as an SVG QR code; absent without provisioning.claimBaseUrl. */
      readonly qrSvg?: string;
      /** One sentence: where enrollment stands (waiting for the claim, the clock, an error). */
      readonly enrollment: string;
    }
  | {
      readonly kind: 'claimed';
      readonly gatewayId: string;
      readonly version: string;
      /** `ws://<lan-ip>:<port><path>/<station id>` and the `wss://` one when there is a TLS listener. */
      readonly stationUrls: readonly string[];
      readonly stationsConnected: number;
      readonly cloudLink: string;
      readonly certificateExpires?: string;
    };

const RELOAD_S = 10;

/**
 * Answer `GET /` (and `HEAD /`) with the page; anything else is left to the
 * caller (false). The page is built per request: it is small, asked for by
 * a person, and always current.
 */
export function serveLanPage(request: IncomingMessage, response: ServerResponse, view: () => LanPageView): boolean {
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/' || (request.method !== 'GET' && request.method !== 'HEAD')) return false;
  const body = Buffer.from(renderLanPage(view()));
  response.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    // The unclaimed page holds the claim code: no cache may keep it.
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
  return true;
}

export function renderLanPage(view: LanPageView): string {
  const title = `pleevi-edge gateway ${view.gatewayId}`;
  const main = view.kind === 'unclaimed' ? unclaimedBody(view) : claimedBody(view);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${RELOAD_S}">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:16px;color:#111;background:#fff;max-width:640px}
h1{font-size:1.3em;margin:0 0 4px}
.state{font-weight:600;margin:8px 0}
.qr{width:min(88vw,360px);height:auto;display:block;margin:12px 0;image-rendering:pixelated}
.qr svg{width:100%;height:auto;display:block}
code{font-size:1.25em;letter-spacing:.05em;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}
dt{color:#555}
li{margin:4px 0;word-break:break-all}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${main}
<p><small>pleevi-edge ${escapeHtml(view.version)}</small></p>
</body>
</html>
`;
}

function unclaimedBody(view: Extract<LanPageView, { kind: 'unclaimed' }>): string {
  const qr =
    view.qrSvg !== undefined && view.claimUrl !== undefined
      ? `<div class="qr" role="img" aria-label="claim QR code">${view.qrSvg}</div>
<p>Scan the code with the installer app, or open the claim page and type the claim code.</p>`
      : '<p>No claim link is configured on this gateway (provisioning.claimBaseUrl): type the claim code in the installer app.</p>';
  return `<p class="state">Waiting to be claimed</p>
${qr}
<dl>
<dt>gateway id</dt><dd><code>${escapeHtml(view.gatewayId)}</code></dd>
<dt>claim code</dt><dd><code>${escapeHtml(view.claimCode)}</code></dd>
<dt>enrollment</dt><dd>${escapeHtml(view.enrollment)}</dd>
</dl>`;
}

function claimedBody(view: Extract<LanPageView, { kind: 'claimed' }>): string {
  const urls = view.stationUrls.map((url) => `<li><code>${escapeHtml(url)}</code></li>`).join('\n');
  return `<p class="state">Claimed and enrolled</p>
<p>Enter this WebSocket URL on each charging station, with the station's own id at the end:</p>
<ul>
${urls}
</ul>
<dl>
<dt>stations connected</dt><dd>${view.stationsConnected}</dd>
<dt>cloud link</dt><dd>${escapeHtml(view.cloudLink)}</dd>
${view.certificateExpires !== undefined ? `<dt>certificate expires</dt><dd>${escapeHtml(view.certificateExpires)}</dd>` : ''}
</dl>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
