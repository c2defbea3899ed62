export const USAGE = `Usage: pleevi-edge <command> [options]

Commands:
  run                     run the gateway daemon
  config check            validate the configuration file and print every error
  status                  live state of the running daemon: links and one row per station
  password hash           read a station password on stdin, print its scrypt hash for "passwordHash"

Options for every command:
  --config FILE           configuration file (default: $PLEEVI_EDGE_CONFIG, else /etc/pleevi-edge/config.json)
  --json                  machine-readable output (listing commands)
  --help                  this text
  --version               print the version

Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input.
`;
