#!/usr/bin/env bash
# Installs a pleevi-edge release on Debian 13 / Raspberry Pi OS trixie (Node.js 20
# from the distribution), or removes it. The layout is docs/install.md's:
#   /opt/pleevi-edge/releases/<version>/   the releases (root's, read-only to the service)
#   /opt/pleevi-edge/current               -> releases/<version>, switched by rename(2)
#   /etc/pleevi-edge/                      root:pleevi-edge 0750, config.json 0640 (written only if absent)
#   /var/lib/pleevi-edge/                  pleevi-edge:pleevi-edge 0750 (dataDir), updates/ beneath
#   /usr/local/bin/pleevi-edge, /etc/issue.d/pleevi-edge.issue, /etc/systemd/system/<units>
# Running it again with the same release changes nothing.
set -euo pipefail

PROG=install.sh
NAME=pleevi-edge
KEEP_RELEASES=3

usage() {
  cat <<'EOF'
usage: install.sh [--root DIR] [--signing-key PUB.pem] [--config FILE] [TARBALL|RELEASE_DIR]
       install.sh [--root DIR] --uninstall [--purge]

  TARBALL|RELEASE_DIR  pleevi-edge-<version>.tar.gz (checked against its .sha256 and .sig
                       when they lie beside it) or an unpacked release; default: the
                       release this script belongs to
  --root DIR           install into the system tree at DIR (an image being built):
                       nothing is started, units are enabled with systemctl --root
  --signing-key FILE   pin this Ed25519 public key (PEM) for updates:
                       /etc/pleevi-edge/update-signing.pub
  --config FILE        the first /etc/pleevi-edge/config.json (an existing one is kept)
  --uninstall          stop, disable and remove the units, the links and /opt/pleevi-edge;
                       /etc/pleevi-edge, /var/lib/pleevi-edge and the user stay
  --purge              with --uninstall: remove those too
EOF
}

say() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

ROOT=""
SIGNING_KEY=""
CONFIG=""
SOURCE=""
UNINSTALL=0
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    --signing-key) [ $# -ge 2 ] || die "--signing-key needs a file"; SIGNING_KEY=$2; shift 2 ;;
    --signing-key=*) SIGNING_KEY=${1#--signing-key=}; shift ;;
    --config) [ $# -ge 2 ] || die "--config needs a file"; CONFIG=$2; shift 2 ;;
    --config=*) CONFIG=${1#--config=}; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) [ -z "$SOURCE" ] || die "one release at a time ($SOURCE, $1)"; SOURCE=$1; shift ;;
  esac
done
if [ $# -gt 0 ]; then
  if [ -n "$SOURCE" ] || [ $# -ne 1 ]; then die "one release at a time"; fi
  SOURCE=$1
fi
[ "$PURGE" -eq 0 ] || [ "$UNINSTALL" -eq 1 ] || die "--purge goes with --uninstall"

if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT=$(cd "$ROOT" && pwd)
  [ "$ROOT" != / ] || ROOT=""
fi
R=$ROOT   # prefix of every path below: "" for this system
ROOT_ARGS=()
[ -z "$ROOT" ] || ROOT_ARGS=(--root "$ROOT")

OPT=$R/opt/$NAME
ETC=$R/etc/$NAME
STATE=$R/var/lib/$NAME
UNIT_DIR=$R/etc/systemd/system
BIN_LINK=$R/usr/local/bin/$NAME
ISSUE_LINK=$R/etc/issue.d/$NAME.issue
UNIT_GLOBS=(service socket path timer target mount automount slice)

# --- Checks that touch nothing -------------------------------------------------

# The version of the Node.js the service will run, or "" when it cannot be run from here.
target_node_version() {
  if [ -n "$ROOT" ]; then
    [ -x "$ROOT/usr/bin/node" ] || return 0
    chroot "$ROOT" /usr/bin/node --version 2>/dev/null || "$ROOT/usr/bin/node" --version 2>/dev/null || true
  else
    command -v node >/dev/null 2>&1 || return 0
    node --version
  fi
}

check_node() {
  local version major
  version=$(target_node_version)
  if [ -z "$version" ]; then
    if [ -n "$ROOT" ]; then
      say "note: $ROOT/usr/bin/node is missing or does not run here: Node.js's version not checked (the service needs nodejs >= 20 at /usr/bin/node)"
      return 0
    fi
    die "pleevi-edge needs Node.js 20 or newer; this system has none. On Debian 13 (trixie) and Raspberry Pi OS trixie: apt-get install nodejs"
  fi
  major=$(printf '%s\n' "$version" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p' | head -n 1)
  if [ -z "$major" ] || [ "$major" -lt 20 ]; then
    die "pleevi-edge needs Node.js 20 or newer; this system has ${version%%$'\n'*}. On Debian 12 (bookworm) the distribution's nodejs is 18: upgrade to Debian 13 (trixie) / Raspberry Pi OS trixie, whose nodejs is 20, then run this again."
  fi
  say "Node.js $version"
}

# A field of release.json (written one key a line by npm run release).
release_field() {
  sed -n "s/^ *\"$2\": *\"\([^\"]*\)\".*/\1/p" "$1/release.json" | head -n 1
}

sha256_check() {
  local tarball=$1 expected actual
  expected=$(cut -d' ' -f1 <"$tarball.sha256")
  actual=$(sha256sum "$tarball" | cut -d' ' -f1)
  [ "$expected" = "$actual" ] || die "$tarball: SHA-256 $actual, but $tarball.sha256 says $expected"
  say "SHA-256 matches $tarball.sha256"
}

signature_check() {
  local tarball=$1 key=$2
  command -v node >/dev/null 2>&1 || { say "note: no node here to check $tarball.sig"; return 0; }
  node -e '
    const { verify, createPublicKey } = require("node:crypto");
    const { readFileSync } = require("node:fs");
    const [tarball, signature, key] = process.argv.slice(1);
    const ok = verify(null, readFileSync(tarball), createPublicKey(readFileSync(key)),
      Buffer.from(readFileSync(signature, "utf8").trim(), "base64"));
    process.exit(ok ? 0 : 1);' "$tarball" "$tarball.sig" "$key" \
    || die "$tarball: the signature $tarball.sig does not verify with $key"
  say "signature verifies with $key"
}

# --- Changes ------------------------------------------------------------------

WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# mkdir + owner + mode; the same call on a directory already right changes nothing.
ensure_dir() {
  local mode=$1 owner=$2 dir=$3
  mkdir -p "$dir"
  chown "$owner" "$dir"
  chmod "$mode" "$dir"
}

# Points LINK at TARGET by renaming a new link over it (never a moment without one).
switch_link() {
  local target=$1 link=$2
  [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ] || return 1
  mkdir -p "$(dirname "$link")"
  ln -sfn "$target" "$link.new.$$"
  mv -T "$link.new.$$" "$link"
}

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

has_install_section() { grep -q '^\[Install\]' "$1"; }

unit_files() {
  local dir=$1 ext file
  for ext in "${UNIT_GLOBS[@]}"; do
    for file in "$dir"/*."$ext"; do
      [ -f "$file" ] && printf '%s\n' "$(basename "$file")"
    done
  done
  return 0
}

disable_unit() {
  local unit=$1
  if systemd_running; then
    systemctl disable --now --quiet "$unit" 2>/dev/null || true
  else
    systemctl "${ROOT_ARGS[@]}" disable --quiet "$unit" 2>/dev/null || true
  fi
}

ensure_user() {
  if ! grep -q "^$NAME:" "$R/etc/group"; then
    groupadd "${ROOT_ARGS[@]}" --system "$NAME"
    say "created group $NAME"
  fi
  if ! grep -q "^$NAME:" "$R/etc/passwd"; then
    useradd "${ROOT_ARGS[@]}" --system --no-create-home --home-dir "/var/lib/$NAME" \
      --shell /usr/sbin/nologin --gid "$NAME" --comment "pleevi-edge gateway" "$NAME"
    say "created system user $NAME"
  fi
  SVC_UID=$(awk -F: -v n="$NAME" '$1 == n { print $3 }' "$R/etc/passwd")
  SVC_GID=$(awk -F: -v n="$NAME" '$1 == n { print $3 }' "$R/etc/group")
  [ -n "$SVC_UID" ] || die "user $NAME not found in $R/etc/passwd"
  [ -n "$SVC_GID" ] || die "group $NAME not found in $R/etc/group"
}

write_config() {
  local config=$ETC/config.json tmp
  if [ -e "$config" ] || [ -L "$config" ]; then
    [ -z "$CONFIG" ] || say "kept the existing $config (--config $CONFIG not used)"
    return 0
  fi
  tmp=$(mktemp "$ETC/.config.json.XXXXXX")
  if [ -n "$CONFIG" ]; then
    cat "$CONFIG" >"$tmp"
  else
    cat >"$tmp" <<'JSON'
{
  "dataDir": "/var/lib/pleevi-edge",
  "listen": { "port": 8080 },
  "upstream": { "url": "wss://cpms.example.com/ocpp" }
}
JSON
  fi
  chown "0:$SVC_GID" "$tmp"
  chmod 0640 "$tmp"
  mv -T "$tmp" "$config"
  if [ -n "$CONFIG" ]; then say "wrote $config from $CONFIG"; else say "wrote a starter $config: set upstream.url (or provisioning) there"; fi
}

pin_signing_key() {
  local pinned=$ETC/update-signing.pub tmp
  [ -n "$SIGNING_KEY" ] || return 0
  if cmp -s "$SIGNING_KEY" "$pinned"; then
    chown 0:0 "$pinned"; chmod 0644 "$pinned"
    return 0
  fi
  tmp=$(mktemp "$ETC/.update-signing.pub.XXXXXX")
  cat "$SIGNING_KEY" >"$tmp"
  chown 0:0 "$tmp"
  chmod 0644 "$tmp"
  mv -T "$tmp" "$pinned"
  say "pinned the update signing key: $pinned"
}

# Unpacks or copies the release into releases/<version>; sets RELEASE_TREE and VERSION.
place_release() {
  local source_tree version arch abi dest tmp top
  mkdir -p "$OPT/releases"
  if [ -f "$SOURCE" ]; then
    # release.json alone first: a release already in place is not unpacked again.
    WORK=$(mktemp -d "$OPT/releases/.unpack.XXXXXX")
    tar -xzf "$SOURCE" -C "$WORK" --no-same-owner --wildcards "$NAME-*/release.json" 2>/dev/null \
      || die "$SOURCE: no $NAME-<version>/release.json inside"
    top=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name "$NAME-*" | head -n 1)
    source_tree=$top
  else
    source_tree=$(cd "$SOURCE" && pwd)
  fi
  version=$(release_field "$source_tree" version)
  arch=$(release_field "$source_tree" arch)
  abi=$(release_field "$source_tree" nodeAbi)
  printf '%s\n' "$version" | grep -Eq '^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$' || die "$source_tree/release.json: bad version '$version'"
  [ "$(basename "$source_tree")" = "$NAME-$version" ] || [ ! -f "$SOURCE" ] || die "$SOURCE: top folder $(basename "$source_tree"), release.json says $version"
  if [ -z "$ROOT" ]; then
    local here
    here=$(node -p 'process.arch + " " + process.versions.modules')
    [ "$here" = "$arch $abi" ] || die "release $version is built for $arch with Node ABI $abi; this system's node is $here"
  fi
  dest=$OPT/releases/$version
  if [ -e "$dest" ]; then
    cmp -s "$dest/release.json" "$source_tree/release.json" \
      || die "$dest exists with another build of $version (release.json differs): remove it first, or release under another version"
    say "release $version is already in $dest"
  else
    if [ -f "$SOURCE" ]; then
      tar -xzf "$SOURCE" -C "$WORK" --no-same-owner
      tmp=$source_tree
    else
      tmp=$(mktemp -d "$OPT/releases/.copy.XXXXXX")
      WORK=$tmp
      cp -a "$source_tree/." "$tmp/"
    fi
    chown -R 0:0 "$tmp"
    chmod -R u+rwX,go+rX,go-w "$tmp"
    chmod 0755 "$tmp"
    mv -T "$tmp" "$dest"
    touch "$dest"   # the install time orders the releases kept
    say "installed release $version ($arch, Node ABI $abi) in $dest"
  fi
  VERSION=$version
  RELEASE_TREE=$dest
}

install_units() {
  local previous=$1 changed=$2 unit reloaded=0 was_active
  local -a units=() wanted=()
  mkdir -p "$UNIT_DIR"
  mapfile -t units < <(unit_files "$RELEASE_TREE/systemd")
  # Units the previous release had and this one has not.
  if [ -n "$previous" ] && [ -d "$OPT/$previous/systemd" ]; then
    while IFS= read -r unit; do
      printf '%s\n' "${units[@]}" | grep -qxF "$unit" && continue
      if [ -f "$UNIT_DIR/$unit" ]; then
        disable_unit "$unit"
        rm -f "$UNIT_DIR/$unit"
        reloaded=1
        say "removed unit $unit (not in release $VERSION)"
      fi
    done < <(unit_files "$OPT/$previous/systemd")
  fi
  for unit in "${units[@]}"; do
    if ! cmp -s "$RELEASE_TREE/systemd/$unit" "$UNIT_DIR/$unit"; then
      install -m 0644 -o 0 -g 0 "$RELEASE_TREE/systemd/$unit" "$UNIT_DIR/$unit"
      reloaded=1
      say "installed unit $UNIT_DIR/$unit"
    fi
    has_install_section "$UNIT_DIR/$unit" && wanted+=("$unit")
  done
  [ "${#wanted[@]}" -gt 0 ] || return 0
  if [ -n "$ROOT" ]; then
    systemctl --root "$ROOT" enable --quiet "${wanted[@]}"
    say "enabled in $ROOT: ${wanted[*]}"
  elif systemd_running; then
    [ "$reloaded" -eq 0 ] || systemctl daemon-reload
    for unit in "${wanted[@]}"; do
      was_active=0
      systemctl is-active --quiet "$unit" && was_active=1
      systemctl enable --now --quiet "$unit"
      if [ "$changed" -eq 1 ] && [ "$was_active" -eq 1 ]; then
        systemctl restart "$unit"
        say "restarted $unit on release $VERSION"
      fi
    done
    say "enabled and started: ${wanted[*]}"
  else
    systemctl enable --quiet "${wanted[@]}"
    say "systemd is not running here (not PID 1): enabled ${wanted[*]}, not started"
  fi
}

# The running release and the two installed before it stay; older ones go.
prune_releases() {
  local current=$1 name kept=1
  while IFS= read -r name; do
    [ "$name" != "$current" ] || continue
    if [ "$kept" -lt "$KEEP_RELEASES" ]; then
      kept=$((kept + 1))
    else
      rm -rf "${OPT:?}/releases/$name"
      say "removed old release $name"
    fi
  done < <(find "$OPT/releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' | sort -rn | cut -d' ' -f2-)
}

do_install() {
  local key previous="" changed=0
  check_node
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
  if [ -z "$SOURCE" ]; then
    SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    [ -f "$SOURCE/release.json" ] || die "$SOURCE is not a release (no release.json): give a TARBALL or RELEASE_DIR"
  fi
  [ -e "$SOURCE" ] || die "$SOURCE: no such file or directory"
  [ -f "$SOURCE" ] || [ -f "$SOURCE/release.json" ] || die "$SOURCE is not a release (no release.json)"
  [ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "--config $CONFIG: no such file"
  if [ -n "$SIGNING_KEY" ]; then
    [ -f "$SIGNING_KEY" ] || die "--signing-key $SIGNING_KEY: no such file"
    grep -q -- '-----BEGIN PUBLIC KEY-----' "$SIGNING_KEY" || die "--signing-key $SIGNING_KEY: not a PEM public key (SPKI)"
  fi
  if [ -f "$SOURCE" ]; then
    [ ! -f "$SOURCE.sha256" ] || sha256_check "$SOURCE"
    key=$SIGNING_KEY
    [ -n "$key" ] || [ ! -f "$ETC/update-signing.pub" ] || key=$ETC/update-signing.pub
    if [ -f "$SOURCE.sig" ] && [ -n "$key" ]; then
      signature_check "$SOURCE" "$key"
    elif [ -n "$SIGNING_KEY" ]; then
      die "$SOURCE has no $SOURCE.sig to check against $SIGNING_KEY"
    else
      say "note: signature not checked (no .sig or no key)"
    fi
  fi

  ensure_user
  ensure_dir 0750 "0:$SVC_GID" "$ETC"
  ensure_dir 0750 "$SVC_UID:$SVC_GID" "$STATE"
  ensure_dir 0750 "$SVC_UID:$SVC_GID" "$STATE/updates"
  ensure_dir 0755 0:0 "$OPT"
  ensure_dir 0755 0:0 "$OPT/releases"
  mkdir -p "$R/usr/local/bin" "$R/etc/issue.d"

  place_release
  previous=$(readlink "$OPT/current" 2>/dev/null || true)
  if switch_link "releases/$VERSION" "$OPT/current"; then
    changed=1
    say "current -> releases/$VERSION${previous:+ (was $previous)}"
  fi
  switch_link "/opt/$NAME/current/agent/bin/$NAME.js" "$BIN_LINK" && say "linked /usr/local/bin/$NAME"
  switch_link "/var/lib/$NAME/console/$NAME.issue" "$ISSUE_LINK" && say "linked /etc/issue.d/$NAME.issue"
  pin_signing_key
  write_config
  install_units "$previous" "$changed"
  prune_releases "$VERSION"
  say "pleevi-edge $VERSION installed${ROOT:+ in $ROOT}"
}

do_uninstall() {
  local unit reload=0
  local -a units=()
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
  if [ -d "$OPT/current/systemd" ]; then
    mapfile -t units < <(unit_files "$OPT/current/systemd")
  fi
  # Units of ours left by an older release too.
  while IFS= read -r unit; do
    printf '%s\n' "${units[@]}" | grep -qxF "$unit" || units+=("$unit")
  done < <(unit_files "$UNIT_DIR" | grep "^$NAME" || true)
  for unit in "${units[@]}"; do
    [ -f "$UNIT_DIR/$unit" ] || continue
    disable_unit "$unit"
    rm -f "$UNIT_DIR/$unit"
    reload=1
    say "removed unit $unit"
  done
  if [ "$reload" -eq 1 ] && systemd_running; then systemctl daemon-reload; fi
  if [ -L "$BIN_LINK" ]; then rm -f "$BIN_LINK"; say "removed /usr/local/bin/$NAME"; fi
  if [ -L "$ISSUE_LINK" ]; then rm -f "$ISSUE_LINK"; say "removed /etc/issue.d/$NAME.issue"; fi
  if [ -e "$OPT" ]; then rm -rf "$OPT"; say "removed /opt/$NAME"; fi
  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$ETC" "$STATE"
    say "removed /etc/$NAME and /var/lib/$NAME"
    if grep -q "^$NAME:" "$R/etc/passwd"; then userdel "${ROOT_ARGS[@]}" "$NAME"; say "removed user $NAME"; fi
    if grep -q "^$NAME:" "$R/etc/group"; then groupdel "${ROOT_ARGS[@]}" "$NAME"; say "removed group $NAME"; fi
  else
    say "kept /etc/$NAME, /var/lib/$NAME and the user $NAME (--purge removes them)"
  fi
}

if [ "$UNINSTALL" -eq 1 ]; then
  [ -z "$SOURCE$SIGNING_KEY$CONFIG" ] || die "--uninstall takes no release, --signing-key or --config"
  do_uninstall
else
  do_install
fi
