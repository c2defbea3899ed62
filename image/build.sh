#!/usr/bin/env bash
# Builds the flashable pleevi-edge appliance image (docs/image.md):
#   1. a Debian 13 (trixie) root file system from Debian's packages alone (mmdebstrap),
#   2. the release installed into it with the release's scripts/install.sh --root,
#   3. the appliance configuration (image/rootfs/ overlay, build options),
#   4. the disk image (genimage): image/out/pleevi-edge-<version>-<arch>.img.
# Runs as root (mmdebstrap's root mode, file ownership in the image).
set -euo pipefail

PROG=image/build.sh
# Node options of a caller (a test runner's --import hooks) must not reach the node inside the image.
unset NODE_OPTIONS NODE_PATH
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

usage() {
  cat <<'EOF'
usage: image/build.sh --arch amd64|arm64 [options]

  --arch ARCH               amd64 (industrial PC, qemu) or arm64 (Raspberry Pi 4/5)
  --release TARBALL         the release to install (pleevi-edge-<version>.tar.gz of the
                            image's arch; its .sha256/.sig beside it are checked by
                            install.sh); default: the newest release/pleevi-edge-*.tar.gz
                            or release/<arch>/pleevi-edge-*.tar.gz of that arch
  --out DIR                 where the image goes (default image/out)
  --provisioning-url URL    the enrollment service (provisioning.url); the gateway boots
                            unclaimed and shows its claim QR
  --claim-base-url URL      provisioning.claimBaseUrl (default: the provisioning URL)
  --provisioning-ca FILE    the enrollment service's CA (PEM) when it is not a public one
  --config FILE             the whole first /etc/pleevi-edge/config.json instead
  --signing-key-pub FILE    pin this Ed25519 public key for updates (default: the
                            update-signing.pub beside the release tarball)
  --ssh-key FILE            authorized_keys for root (without it nobody can log in over SSH)
  --ntp "SERVER..."         NTP servers (default: Debian's pool from timesyncd)
  --mirror URL              Debian mirror (default http://deb.debian.org/debian)
  --cache DIR               downloaded .debs, kept between builds (default image/.cache)
  --refresh                 make the base root file system again (new Debian updates)
  --keep-rootfs             keep the root file system folder (image/.work/<arch>/rootfs)
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

ARCH=""
RELEASE=""
OUT="$HERE/out"
PROV_URL=""
CLAIM_URL=""
PROV_CA=""
CONFIG=""
SIGNING_PUB=""
SSH_KEY=""
NTP=""
MIRROR="http://deb.debian.org/debian"
SECURITY_MIRROR="http://deb.debian.org/debian-security"
CACHE="$HERE/.cache"
KEEP_ROOTFS=0
REFRESH=0
need() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) need "$1" $#; ARCH=$2; shift 2 ;;
    --release) need "$1" $#; RELEASE=$2; shift 2 ;;
    --out) need "$1" $#; OUT=$2; shift 2 ;;
    --provisioning-url) need "$1" $#; PROV_URL=$2; shift 2 ;;
    --claim-base-url) need "$1" $#; CLAIM_URL=$2; shift 2 ;;
    --provisioning-ca) need "$1" $#; PROV_CA=$2; shift 2 ;;
    --config) need "$1" $#; CONFIG=$2; shift 2 ;;
    --signing-key-pub) need "$1" $#; SIGNING_PUB=$2; shift 2 ;;
    --ssh-key) need "$1" $#; SSH_KEY=$2; shift 2 ;;
    --ntp) need "$1" $#; NTP=$2; shift 2 ;;
    --mirror) need "$1" $#; MIRROR=$2; shift 2 ;;
    --cache) need "$1" $#; CACHE=$2; shift 2 ;;
    --keep-rootfs) KEEP_ROOTFS=1; shift ;;
    --refresh) REFRESH=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done

case "$ARCH" in
  amd64) KERNEL_PKG=linux-image-amd64; NODE_ARCH=x64 ;;
  arm64) KERNEL_PKG=linux-image-arm64; NODE_ARCH=arm64 ;;
  *) usage >&2; die "--arch amd64 or --arch arm64" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap root mode; the image's files belong to root and pleevi-edge)"
for tool in mmdebstrap genimage mkfs.ext4; do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install mmdebstrap genimage e2fsprogs mtools dosfstools)"; done
if [ "$ARCH" = arm64 ] && [ "$(dpkg --print-architecture)" != arm64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "arm64 on $(dpkg --print-architecture) needs qemu-user-static with binfmt (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64)"
fi
if [ -n "$CONFIG" ] && { [ -n "$PROV_URL" ] || [ -n "$PROV_CA" ]; }; then die "--config or --provisioning-url/--provisioning-ca, not both"; fi
[ -n "$CONFIG" ] || [ -n "$PROV_URL" ] || die "--provisioning-url URL (or --config FILE): a gateway without either cannot start"
for f in "$PROV_CA" "$CONFIG" "$SIGNING_PUB" "$SSH_KEY"; do [ -z "$f" ] || [ -r "$f" ] || die "cannot read $f"; done

# The release.
if [ -z "$RELEASE" ]; then
  # The newest bundle of this arch: release/ holds this machine's, release/<arch>/ another's.
  for candidate in $(ls -t "$REPO"/release/pleevi-edge-*.tar.gz "$REPO"/release/*/pleevi-edge-*.tar.gz 2>/dev/null || true); do
    if [ "$(tar -xzOf "$candidate" --wildcards '*/release.json' 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).arch)}catch{}})')" = "$NODE_ARCH" ]; then
      RELEASE=$candidate; break
    fi
  done
  [ -n "$RELEASE" ] || die "no $NODE_ARCH release: run npm run release -- --arch $NODE_ARCH first, or pass --release TARBALL"
fi
[ -r "$RELEASE" ] || die "cannot read $RELEASE"
RELEASE=$(cd "$(dirname "$RELEASE")" && pwd)/$(basename "$RELEASE")
VERSION=$(basename "$RELEASE" .tar.gz); VERSION=${VERSION#pleevi-edge-}
[ -n "$SIGNING_PUB" ] || { [ -r "$(dirname "$RELEASE")/update-signing.pub" ] && SIGNING_PUB=$(dirname "$RELEASE")/update-signing.pub; } || true
[ -n "$SIGNING_PUB" ] || die "--signing-key-pub FILE: the image must pin the update signing key"

START=$(date +%s)
WORK="$HERE/.work/$ARCH"
ROOTFS="$WORK/rootfs"
APT_CACHE="$CACHE/apt-$ARCH"
mkdir -p "$WORK" "$APT_CACHE" "$OUT"
rm -rf "$ROOTFS" "$WORK/genimage-tmp" "$WORK/images"
say "building pleevi-edge $VERSION for $ARCH ($RELEASE)"

# 1. The root file system, Debian's packages only.
PACKAGES=(
  nodejs
  systemd systemd-sysv systemd-timesyncd systemd-resolved udev dbus kmod
  login e2fsprogs iproute2 openssh-server avahi-daemon libnss-mdns nftables
  ca-certificates procps less "$KERNEL_PKG" initramfs-tools zstd
)
COMPONENTS=main
if [ "$ARCH" = arm64 ]; then
  PACKAGES+=(raspi-firmware firmware-brcm80211)
  COMPONENTS=main,non-free-firmware
else
  PACKAGES+=(systemd-boot-efi)
fi
T0=$(date +%s)
# The base root file system is kept in the cache, keyed by everything that
# goes into it (architecture, packages, mirrors and this script's mmdebstrap
# line): a rebuild with the same inputs reuses it (--refresh makes it again,
# e.g. to take Debian's security updates). Downloaded .debs are kept too.
KEY=$( { echo "$ARCH $COMPONENTS $MIRROR $SECURITY_MIRROR ${PACKAGES[*]}"; sed -n '/^mmdebstrap /,/^  > /p' "$0"; } | sha256sum | cut -c1-16)
BASE_TAR="$CACHE/rootfs-$ARCH-$KEY.tar"
if [ "$REFRESH" = 0 ] && [ -s "$BASE_TAR" ]; then
  mkdir -p "$ROOTFS"
  tar -C "$ROOTFS" --numeric-owner --xattrs --xattrs-include='*' -xpf "$BASE_TAR"
  say "root file system: $(( $(date +%s) - T0 )) s from the cache ($BASE_TAR, made $(date -u -r "$BASE_TAR" +%Y-%m-%dT%H:%MZ); --refresh to make it again)"
else
# Debian's raspi-firmware kernel hook writes /boot/firmware (cmdline.txt points at the root label).
# Its /etc/default/raspi-firmware is a conffile written before the package:
# force-confold keeps ours where dpkg would ask (nobody answers in a build).
mmdebstrap --mode=root --variant=apt --arch="$ARCH" --components="$COMPONENTS" \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --dpkgopt=force-unsafe-io --dpkgopt=force-confold --dpkgopt=force-confdef --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives" "$1/boot/firmware" "$1/etc/default"; for f in "'"$APT_CACHE"'"/*.deb; do [ -e "$f" ] && cp "$f" "$1/var/cache/apt/archives/"; done; true' \
  --setup-hook='printf "ROOTPART=LABEL=pleevi-root\nCONSOLES=\"ttyS0,115200 tty1\"\n" > "$1/etc/default/raspi-firmware"' \
  --customize-hook='for f in "$1"/var/cache/apt/archives/*.deb; do [ -e "'"$APT_CACHE"'/$(basename "$f")" ] || cp "$f" "'"$APT_CACHE"'/"; done' \
  trixie "$ROOTFS" \
  "deb $MIRROR trixie ${COMPONENTS//,/ }" \
  "deb $MIRROR trixie-updates ${COMPONENTS//,/ }" \
  "deb $SECURITY_MIRROR trixie-security ${COMPONENTS//,/ }" \
  > "$WORK/mmdebstrap.log" 2>&1 || { tail -n 30 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $WORK/mmdebstrap.log)"; }
  rm -f "$CACHE"/rootfs-"$ARCH"-*.tar
  tar -C "$ROOTFS" --numeric-owner --xattrs --xattrs-include='*' -cpf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  say "root file system: $(( $(date +%s) - T0 )) s with mmdebstrap, $(du -sh "$ROOTFS" | cut -f1) ($(ls "$APT_CACHE" | wc -l) packages cached in $APT_CACHE)"
fi

# 2. The release, with the release's own installer.
T0=$(date +%s)
STAGE="$WORK/stage"
rm -rf "$STAGE"; mkdir -p "$STAGE"
REL_ARCH=$(tar -xzOf "$RELEASE" --wildcards '*/release.json' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.arch+" "+r.nodeAbi)})')
# The release carries its native module (better-sqlite3) compiled for one
# arch: an arm64 image takes an arm64 release (npm run release -- --arch
# arm64 cross-compiles it on x64), signed as it is installed.
[ "${REL_ARCH% *}" = "$NODE_ARCH" ] || die "$RELEASE is an ${REL_ARCH% *} release, the image is $ARCH: npm run release -- --arch $NODE_ARCH (or --release an $NODE_ARCH bundle)"
if [ -n "$CONFIG" ]; then
  cp "$CONFIG" "$STAGE/config.json"
else
  node -e '
    const [url, claim, ca] = process.argv.slice(1);
    const provisioning = { url, claimBaseUrl: claim || url };
    if (ca) provisioning.ca = "/etc/pleevi-edge/provisioning-ca.pem";
    // dataDir and admin.socket spelled out: the CLI run from a shell (pleevi-edge status) has no
    // $STATE_DIRECTORY/$RUNTIME_DIRECTORY and must find the daemon where systemd put it.
    const config = { dataDir: "/var/lib/pleevi-edge", admin: { socket: "/run/pleevi-edge/admin.sock" }, listen: { port: 8080 }, provisioning, log: { level: "info" } };
    process.stdout.write(JSON.stringify(config, null, 2) + "\n");
  ' "$PROV_URL" "$CLAIM_URL" "$PROV_CA" > "$STAGE/config.json"
fi
INSTALLER="$STAGE/install.sh"
tar -xzf "$RELEASE" -C "$STAGE" --wildcards '*/scripts/install.sh' --strip-components=2 2>/dev/null && [ -f "$STAGE/install.sh" ] || die "the release has no scripts/install.sh"
bash "$INSTALLER" --root "$ROOTFS" --signing-key "$SIGNING_PUB" --config "$STAGE/config.json" "$RELEASE" > "$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; die "install.sh --root failed"; }
sed 's/^/  install.sh: /' "$WORK/install.log"
[ -z "$PROV_CA" ] || install -m 0644 "$PROV_CA" "$ROOTFS/etc/pleevi-edge/provisioning-ca.pem"
# The snippet's folder: the agent writes its console snippet (the claim QR) there, never creates it.
install -d -m 0750 -o "$(chroot "$ROOTFS" id -u pleevi-edge)" -g "$(chroot "$ROOTFS" id -g pleevi-edge)" "$ROOTFS/var/lib/pleevi-edge/console"
say "release installed: $(( $(date +%s) - T0 )) s"

# 3. The appliance configuration.
cp -a "$HERE/rootfs/." "$ROOTFS/"
echo pleevi-gw > "$ROOTFS/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpleevi-gw\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' > "$ROOTFS/etc/hosts"
# machine-id: made at the first boot (systemd's first-boot state), never shared.
echo uninitialized > "$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"; ln -sf /etc/machine-id "$ROOTFS/var/lib/dbus/machine-id"
# SSH host keys: made at the first boot (pleevi-firstboot), none in the image.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
# Nobody logs in with a password: root stays locked ('*'), keys only.
chroot "$ROOTFS" passwd -l root >/dev/null
install -d -m 0700 "$ROOTFS/root/.ssh"
if [ -n "$SSH_KEY" ]; then install -m 0600 "$SSH_KEY" "$ROOTFS/root/.ssh/authorized_keys"; fi
# The clock: never earlier than the image's build (systemd sets it to this file's
# time at boot); timesyncd keeps the last synchronised time in
# /var/lib/systemd/timesync/clock across reboots.
touch "$ROOTFS/usr/lib/clock-epoch"
if [ -n "$NTP" ]; then
  mkdir -p "$ROOTFS/etc/systemd/timesyncd.conf.d"
  printf '[Time]\nNTP=%s\nFallbackNTP=\n' "$NTP" > "$ROOTFS/etc/systemd/timesyncd.conf.d/10-pleevi-edge.conf"
fi
cat > "$ROOTFS/etc/fstab" <<EOF
# pleevi-edge appliance (image/build.sh)
LABEL=pleevi-root  /  ext4  defaults,noatime,commit=60,errors=remount-ro  0  1
EOF
if [ "$ARCH" = arm64 ]; then
  echo 'LABEL=PLEEVIBOOT  /boot/firmware  vfat  defaults,noatime,umask=0077,nofail  0  2' >> "$ROOTFS/etc/fstab"
fi
# Nobody is at the console to answer systemd-firstboot's questions; UTC, C.UTF-8.
ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOTFS/etc/localtime"; echo Etc/UTC > "$ROOTFS/etc/timezone"
echo LANG=C.UTF-8 > "$ROOTFS/etc/locale.conf"
SYSTEMCTL=(systemctl --root="$ROOTFS")
"${SYSTEMCTL[@]}" mask systemd-firstboot.service >/dev/null 2>&1
"${SYSTEMCTL[@]}" enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service \
  nftables.service ssh.service avahi-daemon.service pleevi-firstboot.service pleevi-edge-issue.path >/dev/null 2>&1
# The appliance is updated by release bundles and new images, not by apt in the field.
"${SYSTEMCTL[@]}" disable apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
"${SYSTEMCTL[@]}" mask apt-daily.service apt-daily-upgrade.service >/dev/null 2>&1 || true
ln -sf ../run/systemd/resolve/stub-resolv.conf "$ROOTFS/etc/resolv.conf"
chroot "$ROOTFS" nft -c -f /etc/nftables.conf 2>/dev/null || say "note: nft -c needs the nf_tables module on the build host; ruleset not checked here"
chroot "$ROOTFS" /usr/sbin/sshd -t -f /etc/ssh/sshd_config -h /dev/null 2>/dev/null || true

# The checks of the installed agent, inside the image (qemu-user for arm64).
chroot "$ROOTFS" /usr/bin/node /opt/pleevi-edge/current/agent/bin/pleevi-edge.js --version > "$WORK/agent-version.txt"
chroot "$ROOTFS" setpriv --reuid=pleevi-edge --regid=pleevi-edge --init-groups --reset-env -- /usr/bin/node /opt/pleevi-edge/current/agent/bin/pleevi-edge.js config check --config /etc/pleevi-edge/config.json > "$WORK/config-check.txt" 2>&1 \
  || { cat "$WORK/config-check.txt" >&2; die "config check failed inside the image"; }
# The native module: the agent's database opens with the release's better-sqlite3.
chroot "$ROOTFS" setpriv --reuid=pleevi-edge --regid=pleevi-edge --init-groups --reset-env -- /usr/bin/node \
  -e 'const D=require("/opt/pleevi-edge/current/node_modules/better-sqlite3");const d=new D(":memory:");console.log(process.arch+" sqlite "+d.prepare("select sqlite_version() v").get().v)' \
  > "$WORK/sqlite-check.txt" 2>&1 || { cat "$WORK/sqlite-check.txt" >&2; die "better-sqlite3 does not load inside the image"; }
say "inside the image: pleevi-edge --version: $(cat "$WORK/agent-version.txt"); config check: ok; better-sqlite3: $(cat "$WORK/sqlite-check.txt")"

# 4. The disk image.
T0=$(date +%s)
BOOT="$WORK/boot"
rm -rf "$BOOT"; mkdir -p "$BOOT"
KVER=$(ls "$ROOTFS"/boot/vmlinuz-* | sed 's|.*/vmlinuz-||' | sort -V | tail -n1)
[ -n "$KVER" ] || die "no kernel in the root file system"
cp "$ROOTFS/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp "$ROOTFS/boot/initrd.img-$KVER" "$WORK/initrd.img"
CMDLINE="root=LABEL=pleevi-root rootfstype=ext4 rootwait ro console=tty1 console=ttyS0,115200"
if [ "$ARCH" = amd64 ]; then
  # UEFI: systemd-boot on the EFI system partition, the kernel and initrd beside it.
  mkdir -p "$BOOT/EFI/BOOT" "$BOOT/loader/entries"
  cp "$ROOTFS/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$BOOT/EFI/BOOT/BOOTX64.EFI"
  cp "$WORK/vmlinuz" "$BOOT/vmlinuz"; cp "$WORK/initrd.img" "$BOOT/initrd.img"
  printf 'default pleevi-edge.conf\ntimeout 0\nconsole-mode keep\n' > "$BOOT/loader/loader.conf"
  printf 'title pleevi-edge %s\nlinux /vmlinuz\ninitrd /initrd.img\noptions %s\n' "$VERSION" "$CMDLINE" > "$BOOT/loader/entries/pleevi-edge.conf"
else
  # Raspberry Pi: Debian's raspi-firmware put the firmware, the device trees, the
  # kernel, the initrd, config.txt and cmdline.txt into /boot/firmware.
  cp -a "$ROOTFS/boot/firmware/." "$BOOT/"
  [ -f "$BOOT/config.txt" ] || die "raspi-firmware wrote no config.txt"
  echo "$CMDLINE" | sed 's/console=tty1 console=ttyS0,115200/console=ttyS1,115200 console=tty1/' > "$BOOT/cmdline.txt"
  rm -rf "$ROOTFS"/boot/firmware/*
fi
echo "$CMDLINE" > "$WORK/cmdline.txt"
BOOT_MB=$(( $(du -sm "$BOOT" | cut -f1) + 64 ))
[ "$BOOT_MB" -ge 128 ] || BOOT_MB=128
# Room to grow: the database, the journal (64M) and two more releases.
ROOT_MB=$(( $(du -sm "$ROOTFS" | cut -f1) * 5 / 4 + 768 ))
IMG="pleevi-edge-$VERSION-$ARCH.img"
sed -e "s|@IMG@|$IMG|g" -e "s|@BOOT_MB@|$BOOT_MB|g" -e "s|@ROOT_MB@|$ROOT_MB|g" -e "s|@BOOT@|$BOOT|g" \
  -e "s|@BOOT_FILES@|$(cd "$WORK" && ls -d boot/* | sed "s/.*/\"&\"/" | paste -sd, -)|g" \
  "$HERE/genimage-$ARCH.cfg" > "$WORK/genimage.cfg"
genimage --config "$WORK/genimage.cfg" --rootpath "$ROOTFS" --tmppath "$WORK/genimage-tmp" \
  --inputpath "$WORK" --outputpath "$WORK/images" > "$WORK/genimage.log" 2>&1 \
  || { tail -n 30 "$WORK/genimage.log" >&2; die "genimage failed (log: $WORK/genimage.log)"; }
mv "$WORK/images/$IMG" "$OUT/$IMG"
cp "$WORK/vmlinuz" "$OUT/pleevi-edge-$VERSION-$ARCH.vmlinuz"
cp "$WORK/initrd.img" "$OUT/pleevi-edge-$VERSION-$ARCH.initrd"
cp "$WORK/cmdline.txt" "$OUT/pleevi-edge-$VERSION-$ARCH.cmdline"
rm -rf "$WORK/genimage-tmp" "$WORK/images"
[ "$KEEP_ROOTFS" = 1 ] || rm -rf "$ROOTFS"
say "disk image: $(( $(date +%s) - T0 )) s"
say "image: $OUT/$IMG ($(du -h --apparent-size "$OUT/$IMG" | cut -f1) apparent, $(du -h "$OUT/$IMG" | cut -f1) used; kernel $KVER)"
say "built in $(( $(date +%s) - START )) s"
