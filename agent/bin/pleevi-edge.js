#!/usr/bin/env node
// Entry point installed as `pleevi-edge`; the CLI itself is compiled TypeScript.
import { main } from '../../dist/agent/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
