#!/usr/bin/env node
// Entry point installed as `pleevi-provision`; the service itself is compiled TypeScript.
import { main } from '../../dist/provisioning/src/main.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
