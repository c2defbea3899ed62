/**
 * The one redaction every file of the support bundle goes through
 * (docs/appliance.md "Diagnosis"): the bundle leaves the gateway, so no
 * password, key, token or claim code may be in it, wherever it appears.
 *
 * Three passes, in this order:
 * 1. JSON values under secret-looking keys (password, passwordHash, key,
 *    secret, token, claimCode, private..., authorization, credential) are
 *    replaced, whatever they hold;
 * 2. in all text: every PEM private key block (also one written on one line
 *    with `\n` escapes, or cut short), credentials in URLs
 *    (`//user:pass@`), HTTP Basic and Bearer values, and `"key": "value"`
 *    pairs of the secret keys in JSON text (log lines);
 * 3. in all text: the literal values of the secrets the gateway knows of
 *    (from its configuration files, its identity and its key files), so a
 *    secret that slipped into a log line in any form is scrubbed too.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /pass(word|phrase)?|secret|token|claim_?code|private|^key$|_key$|authorization|credential|cookie/i;
/** Literal secrets shorter than this are only redacted by key: scrubbing "abc" from every log line would destroy the bundle. */
const MIN_LITERAL_LENGTH = 4;

/**
 * A private key block up to its END line (a 4096-bit RSA key is about 3,300
 * characters; 10,000 leaves room for headers and escapes), or, cut short,
 * as far as it runs on in base64 and line breaks (real or `\n` escapes).
 */
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(?:[\s\S]{0,10000}?-----END [A-Z0-9 ]*PRIVATE KEY-----|(?:[A-Za-z0-9+/=]|\r?\n|\\[rn])*)/g;
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:"']+:[^\s/@"']*@/gi;
const HTTP_CREDENTIALS = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{4,}/g;
const SECRET_PAIR = /("(?:[A-Za-z_]*(?:pass(?:word|phrase)?|secret|token|claim_?code|private)[A-Za-z_]*|key|[A-Za-z]*_key|authorization|credentials?|cookie)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

export class Redactor {
  private readonly literals: string[];

  /** `secrets`: literal values to scrub everywhere (passwords, claim codes, key file contents and their lines). */
  constructor(secrets: Iterable<string>) {
    const set = new Set<string>();
    for (const secret of secrets) {
      for (const form of literalForms(secret)) if (form.length >= MIN_LITERAL_LENGTH) set.add(form);
    }
    // Longest first: a secret that contains another is removed whole.
    this.literals = [...set].sort((a, b) => b.length - a.length);
  }

  /**
   * The single entry point: text is scrubbed; anything else is redacted by
   * key, written as JSON (2-space indent) and scrubbed as text.
   */
  redact(content: unknown): string {
    if (typeof content === 'string') return this.text(content);
    return this.text(`${JSON.stringify(redactByKey(content), null, 2)}\n`);
  }

  private text(input: string): string {
    let output = input
      .replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY-----${REDACTED}-----END $1PRIVATE KEY-----`)
      .replace(URL_CREDENTIALS, `$1${REDACTED}@`)
      .replace(HTTP_CREDENTIALS, `$1 ${REDACTED}`)
      .replace(SECRET_PAIR, `$1"${REDACTED}"`);
    for (const literal of this.literals) output = output.split(literal).join(REDACTED);
    return output;
  }
}

/** A JSON value with every value under a secret key replaced (objects and arrays walked, others kept). */
export function redactByKey(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactByKey);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEY.test(key) && inner !== null && inner !== undefined && typeof inner !== 'boolean' && !isPlainCount(inner) ? REDACTED : redactByKey(inner);
  }
  return out;
}

/** Numbers are counts or flags (`authFailures`, ...), never a secret worth hiding. */
function isPlainCount(value: unknown): boolean {
  return typeof value === 'number';
}

/**
 * The forms a secret may take in a file: as is, JSON-escaped (a log line),
 * and for a PEM text every base64 line of it (a fragment in a log).
 */
function literalForms(secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1)];
  if (secret.includes('-----BEGIN ')) {
    for (const line of secret.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed !== '' && !trimmed.startsWith('-----')) forms.push(trimmed);
    }
  }
  return forms;
}

/** Every string in a JSON value under a secret key: the literals a Redactor scrubs. */
export function secretValuesIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) secretValuesIn(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(key) && typeof inner === 'string') found.push(inner);
      else secretValuesIn(inner, found);
    }
  }
  return found;
}
