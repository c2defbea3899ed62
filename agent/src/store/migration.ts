/**
 * One versioned schema change. Applied in order, each once, each in its own
 * transaction; `PRAGMA user_version` holds the last one applied. Never edit a
 * released migration: add the next one (one file per migration in
 * `migrations/`, listed in `migrations.ts`).
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}
