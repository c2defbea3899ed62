// Stamps dist/build-info.json with the build time, the floor under which the
// gateway never believes its clock (agent/src/provisioning/clock-plausibility.ts).
// SOURCE_DATE_EPOCH (reproducible builds) is honoured when set.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const epoch = process.env.SOURCE_DATE_EPOCH;
const builtAt = epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
writeFileSync(new URL('../dist/build-info.json', import.meta.url), `${JSON.stringify({ builtAt: builtAt.toISOString(), version }, null, 2)}\n`);
