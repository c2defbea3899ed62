import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type { Ajv, AnySchemaObject, ValidateFunction } from 'ajv';
import { lazyModule } from '../util/lazy-module.js';
import { withInt32Bounds } from './ocpp-integer-bounds.js';
import { isRfc3339DateTime } from './rfc3339-date-time.js';

/**
 * The official OCPP JSON schemas (as bundled by ocpp-rpc, the same files its
 * strict mode checks against) for what the gateway itself sends: its own
 * calls are validated before they go out, so a station never answers them
 * with a FormatViolation (docs/ocpp-notes.md "The gateway's own calls"). Two
 * checks are added to the files: integers are 32-bit (ocpp-integer-bounds.ts)
 * and a date-time is a real date (rfc3339-date-time.ts).
 *
 * Each version's file is an array of schemas keyed by `$id`: `urn:<Action>.req`
 * for 1.6 and 2.0.1, `urn:<Action>Request` for 2.1. The ids repeat across
 * versions, so each version gets its own ajv instance, built on first use
 * (the 2.0.1 file is half a megabyte).
 */
interface SchemaSet {
  readonly file: string;
  readonly requestId: (action: string) => string;
}

const SCHEMA_SETS: Readonly<Record<string, SchemaSet>> = {
  'ocpp1.6': { file: 'ocpp-rpc/lib/schemas/ocpp1_6.json', requestId: (action) => `urn:${action}.req` },
  // OCPP 2.0 never had its own published schemas in ocpp-rpc; 2.0.1 is its corrected edition.
  'ocpp2.0': { file: 'ocpp-rpc/lib/schemas/ocpp2_0_1.json', requestId: (action) => `urn:${action}.req` },
  'ocpp2.0.1': { file: 'ocpp-rpc/lib/schemas/ocpp2_0_1.json', requestId: (action) => `urn:${action}.req` },
  'ocpp2.1': { file: 'ocpp-rpc/lib/schemas/ocpp2_1.json', requestId: (action) => `urn:${action}Request` },
};

const require = createRequire(import.meta.url);
/** ajv is loaded with the first schedule the gateway sends, not at start (docs/benchmark.md "Idle memory"). */
const loadAjv = lazyModule<typeof AjvModule>('ajv');
const instances = new Map<string, Ajv>();

/** Schema problems of a request payload for this subprotocol; empty when valid. Throws for an unknown subprotocol. */
export function requestProblems(protocol: string, action: string, payload: unknown): string[] {
  const set = SCHEMA_SETS[protocol];
  if (!set) throw new Error(`no OCPP schemas for subprotocol "${protocol || '(none)'}"`);
  const validate = validatorFor(set, action);
  if (validate(payload)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
}

export function hasSchemasFor(protocol: string): boolean {
  return SCHEMA_SETS[protocol] !== undefined;
}

function validatorFor(set: SchemaSet, action: string): ValidateFunction {
  let ajv = instances.get(set.file);
  if (!ajv) {
    // strict off: the official files carry annotations (`comment`, `javaType`) ajv does not know.
    // multipleOfPrecision: the 1.6 `limit` is `multipleOf 0.1`, and 16.3 / 0.1 is not an integer in floating point.
    ajv = new (loadAjv().Ajv)({ strict: false, allErrors: true, multipleOfPrecision: 6 });
    // Stricter than ajv-formats (which ocpp-rpc uses): no 2030-02-31, see rfc3339-date-time.ts.
    ajv.addFormat('date-time', { type: 'string', validate: isRfc3339DateTime });
    for (const schema of require(set.file) as AnySchemaObject[]) {
      // ajv 8 resolves `$id`s with fast-uri, which refuses `urn:X.req` (an URN without a namespace id);
      // the schemas only refer inside themselves (`#/definitions/...`), so they are keyed by name instead.
      const { $id, ...body } = schema;
      if (typeof $id === 'string') ajv.addSchema(withInt32Bounds(body), schemaKey($id));
    }
    instances.set(set.file, ajv);
  }
  const validate = ajv.getSchema(schemaKey(set.requestId(action)));
  if (!validate) throw new Error(`no schema ${set.requestId(action)} in ${set.file}`);
  return validate;
}

function schemaKey(id: string): string {
  return id.replace(/^urn:/, '');
}
