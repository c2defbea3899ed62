import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type { Options, ValidateFunction } from 'ajv';
import { lazyModule } from '../util/lazy-module.js';
import { CONFIG_SCHEMA, type ConfigFile } from './config-schema.js';

/**
 * The config file's schema validators. `npm run build` compiles them once
 * into standalone code (scripts/build/config-validators.ts writes
 * `config-validators.generated.cjs` beside this module in dist/), so the CLI
 * and the daemon load about 0.2 MB of plain functions in ~10 ms instead of
 * ajv's compiler, which took 0.1-0.2 s of CPU and several MB at every start
 * (docs/benchmark.md "Idle memory"). Run from the TypeScript sources (the
 * tests), the file is not there and the schema is compiled here, with the
 * same options; a test checks that both give the same answers.
 */

export type ConfigValidatorKind = 'claimed' | 'device';

/** The id of the unclaimed variant: an unclaimed gateway's file may leave out upstream, enrollment brings it. */
export const DEVICE_SCHEMA_ID = 'urn:pleevi-edge:config:v1:device';

export const CONFIG_AJV_OPTIONS: Options = {
  allErrors: true,
  strict: true,
  // `not: { required: [...] }` names properties declared one level up; that is intended.
  strictRequired: false,
  // Gives each error its parentSchema, where our errorMessage annotation lives.
  verbose: true,
};

/** The schemas of both variants, keyed as the generated module exports them. */
export function configSchemas(): Record<ConfigValidatorKind, Record<string, unknown>> {
  return { claimed: CONFIG_SCHEMA, device: { ...CONFIG_SCHEMA, $id: DEVICE_SCHEMA_ID, required: [] } };
}

/** Registers what our schema adds to JSON Schema (an annotation only). */
export function addConfigKeywords(ajv: AjvModule.Ajv): void {
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
}

export const GENERATED_VALIDATORS_FILE = 'config-validators.generated.cjs';

const loadAjv = lazyModule<typeof AjvModule>('ajv');
const requireHere = createRequire(import.meta.url);
/** The generated validators; null once looked for and not found (run from the sources). */
let generated: Record<ConfigValidatorKind, ValidateFunction<ConfigFile>> | null | undefined;
const compiled: Partial<Record<ConfigValidatorKind, ValidateFunction<ConfigFile>>> = {};

/** The validator of one variant: the generated one when the build made it, else compiled on first use. */
export function configValidator(kind: ConfigValidatorKind): ValidateFunction<ConfigFile> {
  if (generated === undefined) generated = generatedValidators() ?? null;
  if (generated) return generated[kind];
  return (compiled[kind] ??= compileConfigValidator(kind));
}

/** A validator compiled now with ajv (the route the generated code is checked against). */
export function compileConfigValidator(kind: ConfigValidatorKind): ValidateFunction<ConfigFile> {
  const { Ajv } = loadAjv();
  const ajv = new Ajv(CONFIG_AJV_OPTIONS);
  addConfigKeywords(ajv);
  return ajv.compile<ConfigFile>(configSchemas()[kind]);
}

function generatedValidators(): Record<ConfigValidatorKind, ValidateFunction<ConfigFile>> | undefined {
  let loaded: unknown;
  try {
    loaded = requireHere(`./${GENERATED_VALIDATORS_FILE}`);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
  const module = loaded as Partial<Record<ConfigValidatorKind, ValidateFunction<ConfigFile>>>;
  if (typeof module.claimed !== 'function' || typeof module.device !== 'function') {
    throw new Error(`${GENERATED_VALIDATORS_FILE} does not export the claimed and device validators: run npm run build`);
  }
  return { claimed: module.claimed, device: module.device };
}
