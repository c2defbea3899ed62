import { createRequire } from 'node:module';

const requireModule = createRequire(import.meta.url);

/**
 * A CommonJS dependency loaded the first time a feature uses it, not when
 * the gateway starts: idle memory on a small device is a budget
 * (docs/benchmark.md "Idle memory"). The loader is synchronous, so callers
 * stay synchronous; Node caches the module after the first call.
 */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= requireModule(name) as T;
    return loaded;
  };
}
