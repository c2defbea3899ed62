export const USAGE = `Usage: pleevi-edge <command> [options]

Commands:
  run                     run the gateway daemon
  config check            validate the configuration file and print every error
  status                  live state of the running daemon: links and one row per station
  password hash           read a station password on stdin, print its scrypt hash for "passwordHash"
  drivers import FILE     import the driver CSV (replaces the list; --merge, --dry-run); all or nothing
  drivers list            every driver and their badges
  drivers lookup BADGE    who owns a badge (exit 1 when nobody does)
  stations                stored stations: boot details, last connection, connector status
  sessions                stored charging sessions with their drivers (--active, --limit N)
  schedules               cloud charging schedules in force per station and their last result (--all)
  provision status        the gateway's identity (made on the first run) and claim state, with the claim code
  provision qr            the claim QR code in the terminal (--svg FILE: also as SVG)
  provision enroll        enroll now (asks the running daemon, or enrolls in the foreground)
  provision reset --yes   forget the identity: a new key and claim code at the next start
  vpn run                 the WireGuard supervisor of vpn.wireguard (root: pleevi-edge-vpn.service)
  vpn status              the tunnel: state, latest handshake, bytes each way (exit 1 when down)
  diag check              self-checks (config, clock, certificates, CPMS, broker, disk, database, service); exit 1 on a failure
  diag bundle [-o FILE]   write a redacted support archive (tar.gz, mode 0600)
  update apply FILE       check a signed release bundle and hand it to the update helper (--sig FILE, --wait)
  update status           the version running, releases installed, the last update's outcome

Options for every command:
  --config FILE           configuration file (default: $PLEEVI_EDGE_CONFIG, else /etc/pleevi-edge/config.json)
  --json                  machine-readable output (listing commands, diag check)
  --help                  this text
  --version               print the version

Exit codes: 0 success, 1 failure at run time, 2 bad usage or bad input,
75 (run only) stopped to be restarted on its database after a full disk.
`;
