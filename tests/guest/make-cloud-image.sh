#!/bin/bash
# make-cloud-image.sh OUTDIR
#
# Builds a small Debian 12 cloud image for the cloud-init tests into OUTDIR:
#   OUTDIR/debian-12.raw   ext4 file system (no partition table), 2 GiB,
#                          root=/dev/vda, with cloud-init and qemu-guest-agent
#   OUTDIR/vmlinuz         the image's own kernel (linux-image-cloud-amd64)
#   OUTDIR/initrd.img      the image's own initramfs
#   OUTDIR/packages        the package list the image was built from
#
# No package ships a cloud image, so the suite makes one: mmdebstrap from the
# package archive apt already uses on this machine (its sources file is
# handed over as is, so no mirror is named here), then mkfs.ext4 -d, which
# needs no loop mount.  About a minute; the result is cached: nothing is done
# while the three files exist and are newer than this script.  Runs as root,
# or as an ordinary user with sudo (see AS_ROOT below).
set -euo pipefail

die() { echo "make-cloud-image: ERROR: $*" >&2; exit 1; }
log() { echo "make-cloud-image: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$1
SELF=$(readlink -f "$0")
PACKAGES="systemd-sysv,udev,cloud-init,qemu-guest-agent,linux-image-cloud-amd64,ifupdown,isc-dhcp-client,openssh-server"

fresh() { [ -f "$1" ] && [ "$1" -nt "$SELF" ]; }
if fresh "$OUT/debian-12.raw" && fresh "$OUT/vmlinuz" && fresh "$OUT/initrd.img" &&
   [ "$(cat "$OUT/packages" 2>/dev/null)" = "$PACKAGES" ]; then
    log "image in $OUT is up to date"
    exit 0
fi
for t in mmdebstrap mkfs.ext4; do
    command -v "$t" >/dev/null 2>&1 ||
        die "'$t' not found: install the packages mmdebstrap and e2fsprogs"
done

# The host's own Debian sources, deb822 or one-line format, as apt uses them.
SOURCES=
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ] && grep -q '^[^#]*debian' "$f"; then
        SOURCES=$f
        break
    fi
done
[ -n "$SOURCES" ] || die "no Debian archive in /etc/apt/sources.list(.d): cannot fetch packages"

# The image's files must belong to root inside it, which only root can make
# on disk (mmdebstrap's unshare mode makes them in a user namespace, where
# mkfs.ext4 -d cannot read them back): an ordinary user builds through
# sudo, as scripts/test installs packages, or is told the command to run.
AS_ROOT=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
        die "building the image needs root and there is no sudo here; as root, run: $SELF $OUT && chown -R $(id -u):$(id -g) $OUT"
    AS_ROOT=(sudo)
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap '${AS_ROOT[@]+"${AS_ROOT[@]}"} rm -rf "$WORK"' EXIT

log "mmdebstrap from $SOURCES: $PACKAGES"
# A root password nobody knows and no ssh host keys baked in: cloud-init
# makes the keys at first boot, as on a real cloud image.  The serial console
# gets the kernel's messages and cloud-init's final report.
${AS_ROOT[@]+"${AS_ROOT[@]}"} mmdebstrap --mode=root --variant=minbase --include="$PACKAGES" \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook='echo "/dev/vda / ext4 defaults 0 1" > "$1/etc/fstab"' \
    --customize-hook='printf "auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n" > "$1/etc/network/interfaces"' \
    --customize-hook='printf "datasource_list: [ NoCloud, None ]\n" > "$1/etc/cloud/cloud.cfg.d/90-vp-datasource.cfg"' \
    --customize-hook='systemctl --root="$1" enable qemu-guest-agent.service || true' \
    --customize-hook='cp "$1"/boot/vmlinuz-* "'"$WORK"'/vmlinuz"' \
    --customize-hook='cp "$1"/boot/initrd.img-* "'"$WORK"'/initrd.img"' \
    bookworm "$WORK/root" "$SOURCES" >"$WORK/mmdebstrap.log" 2>&1 || {
        tail -30 "$WORK/mmdebstrap.log" >&2
        die "mmdebstrap failed (log above)"
    }

log "mkfs.ext4 -d into a 2 GiB raw image"
rm -f "$WORK/debian-12.raw"
${AS_ROOT[@]+"${AS_ROOT[@]}"} mkfs.ext4 -q -L cloudroot -d "$WORK/root" "$WORK/debian-12.raw" 2G
${AS_ROOT[@]+"${AS_ROOT[@]}"} chown "$(id -u):$(id -g)" "$WORK/debian-12.raw" "$WORK/vmlinuz" \
    "$WORK/initrd.img"
chmod 0644 "$WORK/debian-12.raw" "$WORK/vmlinuz" "$WORK/initrd.img"
# The daemon's qemu (another user when the suite runs as root) reads the
# kernel and initrd; every parent must be searchable.
chmod a+rx "$OUT"
mv -f "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/debian-12.raw" "$OUT/"
echo "$PACKAGES" >"$OUT/packages"
log "done: $OUT/debian-12.raw"
