/**
 * The phone-sized claim page the gateway's QR code leads to
 * (`GET /claim?gw=&code=`): the gateway id and code filled in, a site to
 * choose, the installer token, one button. It posts to `/claim`, which runs
 * the rules of POST /v1/claims. No script, no external asset: the only style
 * is inline and allowed by its hash in the Content-Security-Policy.
 */
import { createHash } from 'node:crypto';

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:28rem;color:#111;background:#fafafa}
h1{font-size:1.4rem}label{display:block;margin-top:1rem;font-weight:600}
input,select,button{font-size:1.1rem;width:100%;box-sizing:border-box;padding:.6rem;margin-top:.3rem}
button{margin-top:1.5rem;background:#0a5;color:#fff;border:0;border-radius:.3rem}
.ok{color:#075}.fail{color:#a00}code{font-size:1.1rem}`;

const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

export const CLAIM_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

export function claimFormPage(gatewayId: string, claimCode: string, siteIds: readonly string[]): string {
  const options = siteIds.map((id) => `<option value="${escapeHtml(id)}">${escapeHtml(id)}</option>`).join('');
  return page(
    'Claim a gateway',
    `<form method="post" action="/claim">
<label for="gw">Gateway</label><input id="gw" name="gw" value="${escapeHtml(gatewayId)}" required autocomplete="off">
<label for="code">Claim code</label><input id="code" name="code" value="${escapeHtml(claimCode)}" required autocomplete="off" autocapitalize="characters">
<label for="site">Site</label><select id="site" name="site" required>${options}</select>
<label for="token">Installer token</label><input id="token" name="token" type="password" required autocomplete="off">
<button type="submit">Claim</button>
</form>`,
  );
}

export function claimResultPage(ok: boolean, message: string): string {
  return page(ok ? 'Gateway claimed' : 'Not claimed', `<p class="${ok ? 'ok' : 'fail'}">${escapeHtml(message)}</p>`);
}
