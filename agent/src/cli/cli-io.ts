/** What a CLI command may touch, passed in so commands stay testable in-process. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

/** Exit codes (README.md "CLI"). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** `run`: the daemon stopped so that it starts again (EX_TEMPFAIL); systemd's Restart=on-failure does that. */
export const EXIT_RESTART = 75;

export type CliCommand = (args: readonly string[], io: CliIo) => Promise<number>;
