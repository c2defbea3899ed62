import type { ErrorObject } from 'ajv';
import type { ConfigProblem } from '../errors.js';
import { isRecord } from './config-values.js';

/** Config problems: JSON paths, schema errors in words, the order people read them in. */

/** `$.a.b[0]`; keys that are not identifiers are quoted: `$.listen["my key"]`. */
function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** JSON pointer (ajv's instancePath) to `$.a.b[0]`. Digits are array indexes: the schema has no numeric keys. */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '$';
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, segment) => childPath(path, /^\d+$/.test(segment) ? Number(segment) : segment), '$');
}

export function schemaProblem(error: ErrorObject): ConfigProblem {
  const path = pointerToPath(error.instancePath);
  const params: Readonly<Record<string, unknown>> = error.params;
  switch (error.keyword) {
    case 'additionalProperties':
      return { path: childPath(path, String(params['additionalProperty'])), message: 'unknown key' };
    case 'required':
      return { path: childPath(path, String(params['missingProperty'])), message: 'is required' };
    case 'dependencies':
      return {
        path: childPath(path, String(params['missingProperty'])),
        message: `is required when ${String(params['property'])} is set`,
      };
    case 'enum': {
      const allowed = params['allowedValues'];
      const list = Array.isArray(allowed) ? allowed.map((v: unknown) => JSON.stringify(v)).join(', ') : '';
      return { path, message: `must be one of ${list}` };
    }
    case 'type':
      return { path, message: `must be ${String(params['type'])}` };
    default: {
      const custom: unknown = error.parentSchema?.['errorMessage'];
      if (typeof custom === 'string') return { path, message: custom };
      return { path, message: error.message ?? 'is invalid' };
    }
  }
}

/** One value can trip several keywords that share one errorMessage (id: minLength and pattern). */
export function dedupe(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Report problems in the order their keys appear in the file, which is how people read it. */
export function inDocumentOrder(problems: readonly ConfigProblem[], document: unknown): ConfigProblem[] {
  const order = new Map<string, number>();
  const walk = (value: unknown, path: string): void => {
    order.set(path, order.size);
    if (Array.isArray(value)) value.forEach((item: unknown, index) => walk(item, childPath(path, index)));
    else if (isRecord(value)) for (const [key, item] of Object.entries(value)) walk(item, childPath(path, key));
  };
  walk(document, '$');
  const rank = (path: string): number => {
    // A missing key sorts just after its nearest ancestor that exists.
    for (let current: string | undefined = path, bias = 0; current !== undefined; current = parentPath(current), bias = 0.5) {
      const found = order.get(current);
      if (found !== undefined) return found + bias;
    }
    return Number.MAX_SAFE_INTEGER;
  };
  return problems
    .map((problem, index) => ({ problem, index, rank: rank(problem.path) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map(({ problem }) => problem);
}

function parentPath(path: string): string | undefined {
  const match = /(?:\.[A-Za-z_$][\w$]*|\[(?:\d+|"(?:[^"\\]|\\.)*")\])$/.exec(path);
  return match ? path.slice(0, match.index) : undefined;
}

