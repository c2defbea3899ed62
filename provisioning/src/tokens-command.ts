import { EXIT_FAILURE, EXIT_OK, type CliCommand } from '../../agent/src/cli/cli-io.js';
import { formatTable } from '../../agent/src/cli/format-table.js';
import { terminalSafeJson } from '../../agent/src/cli/terminal-safe.js';
import { clockFromEnv } from './clock.js';
import { COMMON_FLAGS, dataDir, parseCommand } from './cli-args.js';
import { UsageError } from './errors.js';
import { openProvisionStore } from './provision-store.js';
import { addToken, listTokens, removeToken, TOKEN_ROLES, type TokenRole } from './tokens.js';

const ADD_USAGE = `Usage: pleevi-provision tokens add --role installer|operator [--label TEXT] [--data DIR]

Make a bearer token and print it once; only its SHA-256 is kept. Installer
tokens claim gateways (POST /v1/claims, the claim page); operator tokens can
also preauthorize serials (POST /v1/preauthorizations).
`;
const LIST_USAGE = `Usage: pleevi-provision tokens list [--json] [--data DIR]

The tokens by id (the first digits of their hash), role and label. The
tokens themselves are not kept and cannot be shown again.
`;
const REMOVE_USAGE = `Usage: pleevi-provision tokens remove ID [--data DIR]

Remove the token with that id (from "tokens list"); it stops working at once.
`;

export const tokensAddCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('tokens add', ADD_USAGE, args, { ...COMMON_FLAGS, role: { type: 'string' }, label: { type: 'string' } }, io, { min: 0, max: 0 });
  if (typeof parsed === 'number') return parsed;
  const role = parsed.values.role;
  if (!TOKEN_ROLES.includes(role as TokenRole)) throw new UsageError('--role must be installer or operator');
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  try {
    const token = addToken(db, role as TokenRole, parsed.values.label, clockFromEnv(io.env)());
    io.stdout.write(`${token}\n`);
    io.stderr.write(`(an ${role} token; shown only this once)\n`);
  } finally {
    db.close();
  }
  return EXIT_OK;
};

export const tokensListCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('tokens list', LIST_USAGE, args, { ...COMMON_FLAGS, json: { type: 'boolean' } }, io, { min: 0, max: 0 });
  if (typeof parsed === 'number') return parsed;
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  try {
    const tokens = listTokens(db).map((token) => ({ ...token, createdAt: new Date(token.createdAt).toISOString() }));
    io.stdout.write(
      parsed.values.json ? `${terminalSafeJson(tokens)}\n` : formatTable(['ID', 'ROLE', 'LABEL', 'CREATED'], tokens.map((token) => [token.id, token.role, token.label ?? '', token.createdAt])),
    );
  } finally {
    db.close();
  }
  return EXIT_OK;
};

export const tokensRemoveCommand: CliCommand = async (args, io) => {
  const parsed = parseCommand('tokens remove', REMOVE_USAGE, args, { ...COMMON_FLAGS }, io, { min: 1, max: 1 });
  if (typeof parsed === 'number') return parsed;
  const db = openProvisionStore(dataDir(parsed.values.data, io));
  try {
    if (!removeToken(db, parsed.positionals[0] ?? '')) {
      io.stderr.write('pleevi-provision tokens remove: no single token has that id\n');
      return EXIT_FAILURE;
    }
    io.stdout.write('removed\n');
  } finally {
    db.close();
  }
  return EXIT_OK;
};
