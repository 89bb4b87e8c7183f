#!/bin/bash
# make-guest-kit.sh OUTDIR
#
# Builds a direct-kernel-boot kit for a TCG test guest into OUTDIR:
#   OUTDIR/vmlinuz         Debian kernel (the one linux-image-amd64 depends on)
#   OUTDIR/initrd.img      busybox initramfs whose /init runs vp.action=write|verify|...
#   OUTDIR/kernel-version  the kernel release string (e.g. 6.1.0-56-amd64)
#   OUTDIR/pattern-offsets.sh  helper (sourceable/executable) printing the pattern
#                          regions for a disk size, for host-side checks
# See README.md next to this script for the guest protocol and the pattern format.
#
# Cache: if OUTDIR/vmlinuz and OUTDIR/initrd.img exist and are newer than this
# script, nothing is done.  Needs: apt-get (Debian archive reachable), dpkg,
# cpio, gzip, xz, busybox-static installed on the host (or downloadable).
set -euo pipefail

die() { echo "make-guest-kit: ERROR: $*" >&2; exit 1; }
log() { echo "make-guest-kit: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$1
SELF=$(readlink -f "$0")

if [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ] &&
   [ "$OUT/vmlinuz" -nt "$SELF" ] && [ "$OUT/initrd.img" -nt "$SELF" ]; then
    log "kit in $OUT is up to date"
    exit 0
fi

for t in apt-get apt-cache dpkg dpkg-deb cpio gzip xz find; do
    command -v "$t" >/dev/null 2>&1 || die "required tool '$t' not found"
done

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vp-guest-kit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"

# --- download the packages ---------------------------------------------------
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
       awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
[ -n "$KPKG" ] || die "cannot find the kernel package linux-image-amd64 depends on (apt-get update needed?)"
log "kernel package: $KPKG"

DL=$WORK/dl
mkdir -p "$DL"
download() {
    # apt-get download as root drops privileges to _apt for the fetch; give
    # _apt a directory it can write, otherwise apt warns ("Download is
    # performed unsandboxed as root ...") and falls back to root.
    if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
        chown _apt "$DL"
    fi
    (cd "$DL" && apt-get download -q "$@") >"$WORK/apt.log" 2>&1 || {
        cat "$WORK/apt.log" >&2
        die "apt-get download $* failed"
    }
    # surface warnings/errors (an '_apt ... unsandboxed' warning here means
    # the chown above did not help; harmless, the download still worked)
    grep -e '^W:' -e '^E:' "$WORK/apt.log" >&2 || true
}

BUSYBOX=
if [ -x /bin/busybox ] && dpkg -s busybox-static >/dev/null 2>&1; then
    BUSYBOX=/bin/busybox
    download "$KPKG"
else
    download "$KPKG" busybox-static
fi

ROOTX=$WORK/x
mkdir -p "$ROOTX"
for deb in "$DL"/*.deb; do
    [ -f "$deb" ] || die "no .deb downloaded"
    dpkg -x "$deb" "$ROOTX"
done
if [ -z "$BUSYBOX" ]; then
    BUSYBOX=$ROOTX/bin/busybox
fi
[ -x "$BUSYBOX" ] || die "busybox binary not found"
# must be static: the initramfs has no libc
if command -v file >/dev/null 2>&1; then
    file -L "$BUSYBOX" | grep -q 'statically linked' || die "$BUSYBOX is not statically linked"
fi

VMLINUZ=$(find "$ROOTX/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
[ -n "$VMLINUZ" ] || die "no vmlinuz in $KPKG"
# The module directory name is the kernel release (uname -r), e.g.
# 6.1.0-56-amd64; the package name is linux-image-<release>.
MODDIR=$(find "$ROOTX/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)
[ -n "$MODDIR" ] || die "no lib/modules/<release> in $KPKG"
KREL=$(basename "$MODDIR")
log "kernel release: $KREL"

# --- initramfs tree -----------------------------------------------------------
IR=$WORK/initramfs
mkdir -p "$IR"/{bin,sbin,dev,proc,sys,tmp,run,mnt,modules,patterns}
cp "$BUSYBOX" "$IR/bin/busybox"
chmod 755 "$IR/bin/busybox"
for a in $("$IR/bin/busybox" --list); do
    [ "$a" = busybox ] && continue
    ln -sf busybox "$IR/bin/$a"
done

# virtio modules, in load order (decompressed: busybox insmod cannot read .ko.xz)
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk"
: >"$IR/modules/order"
for m in $MODS; do
    f=$(find "$MODDIR/kernel/drivers/virtio" "$MODDIR/kernel/drivers/block" \
            \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -n1)
    if [ -z "$f" ]; then
        # built in?  then nothing to load
        if grep -q "/$m.ko" "$MODDIR/modules.builtin" 2>/dev/null; then
            log "module $m is built in"
            continue
        fi
        die "module $m not found under $MODDIR"
    fi
    log "module $m: ${f#"$MODDIR"/}"
    case $f in
        *.ko.xz)  xz -dc "$f" >"$IR/modules/$m.ko" ;;
        *.ko.zst) command -v zstd >/dev/null || die "zstd needed for $f"; zstd -dcq "$f" >"$IR/modules/$m.ko" ;;
        *.ko.gz)  gzip -dc "$f" >"$IR/modules/$m.ko" ;;
        *)        cp "$f" "$IR/modules/$m.ko" ;;
    esac
    echo "$m" >>"$IR/modules/order"
done

# pattern blocks: 1 MiB each of a single repeated byte
mkpat() { head -c 1048576 /dev/zero | tr '\000' "$2" >"$IR/patterns/$1"; }
mkpat start '\245'   # 0xA5
mkpat middle '\132'  # 0x5A
mkpat end '\303'     # 0xC3

cat >"$IR/init" <<'EOF'
#!/bin/sh
# virt-provision test guest init (see tests/guest/README.md)
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

finish() {
    echo "$1"
    sync
    poweroff -f
    # poweroff -f only ends the domain with <features><acpi/></features>
    sleep 5
    echo "VP-POWEROFF-FAILED"
    while :; do sleep 3600; done
}

ACTION=
for w in $(cat /proc/cmdline); do
    case $w in vp.action=*) ACTION=${w#vp.action=} ;; esac
done
echo "VP-INIT action=${ACTION:-none} kernel=$(uname -r)"

for m in $(cat /modules/order); do
    insmod /modules/$m.ko || echo "VP-WARN insmod $m failed"
done

wait_vda() {
    i=0
    while [ ! -b /dev/vda ] || [ ! -r /sys/block/vda/size ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && return 1
        sleep 0.1
    done
    return 0
}

# Regions (in MiB units): start=0, middle=floor(MiB/2), end=MiB-1,
# where MiB = floor(disk bytes / 1048576).  Byte patterns: start 0xA5,
# middle 0x5A, end 0xC3 (files /patterns/{start,middle,end}).
regions() {
    sectors=$(cat /sys/block/vda/size)
    mib=$((sectors / 2048))
    if [ "$mib" -lt 3 ]; then
        return 1
    fi
    echo "start 0"
    echo "middle $((mib / 2))"
    echo "end $((mib - 1))"
}

case $ACTION in
write)
    wait_vda || finish "VP-WRITE-FAIL no /dev/vda"
    r=$(regions) || finish "VP-WRITE-FAIL disk smaller than 3 MiB"
    echo "$r" | while read name off; do
        dd if=/patterns/$name of=/dev/vda bs=1048576 seek=$off count=1 conv=notrunc,fsync 2>/tmp/dd.err ||
            { echo "VP-WRITE-FAIL dd $name at ${off}MiB: $(cat /tmp/dd.err)"; exit 1; }
        echo "VP-WROTE $name at ${off}MiB"
    done || finish "VP-WRITE-FAIL"
    sync
    blockdev --flushbufs /dev/vda 2>/dev/null
    finish "VP-WRITE-OK"
    ;;
verify)
    wait_vda || finish "VP-VERIFY-FAIL no /dev/vda"
    r=$(regions) || finish "VP-VERIFY-FAIL disk smaller than 3 MiB"
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
    detail=$(echo "$r" | while read name off; do
        dd if=/dev/vda of=/tmp/r.bin bs=1048576 skip=$off count=1 iflag=direct 2>/tmp/dd.err ||
            { echo "read-error $name at ${off}MiB: $(cat /tmp/dd.err)"; continue; }
        cmp /patterns/$name /tmp/r.bin >/tmp/cmp.out 2>&1 ||
            echo "mismatch $name at ${off}MiB: $(cat /tmp/cmp.out)"
        rm -f /tmp/r.bin
    done)
    if [ -z "$detail" ]; then
        finish "VP-VERIFY-OK"
    else
        finish "VP-VERIFY-FAIL $(echo $detail)"
    fi
    ;;
*)
    finish "VP-BOOT-OK"
    ;;
esac
EOF
chmod 755 "$IR/init"

# --- host-side helper ---------------------------------------------------------
cat >"$WORK/pattern-offsets.sh" <<'EOF'
#!/bin/sh
# pattern-offsets.sh DISK_BYTES
# Prints "NAME BYTE_OFFSET BYTE_PATTERN" for the three 1 MiB regions the test
# guest writes with vp.action=write, e.g. for qemu-io:
#   pattern-offsets.sh 67108864 | while read n o p; do
#       qemu-io -f qcow2 -r -c "read -P $p $o 1M" disk.qcow2; done
set -e
[ $# -eq 1 ] || { echo "usage: $0 DISK_BYTES" >&2; exit 2; }
mib=$(( $1 / 1048576 ))
[ "$mib" -ge 3 ] || { echo "disk smaller than 3 MiB" >&2; exit 1; }
echo "start 0 0xa5"
echo "middle $(( (mib / 2) * 1048576 )) 0x5a"
echo "end $(( (mib - 1) * 1048576 )) 0xc3"
EOF
chmod 755 "$WORK/pattern-offsets.sh"

# --- pack ---------------------------------------------------------------------
(cd "$IR" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc --owner=0:0 --quiet | gzip -9) >"$WORK/initrd.img"

install -m 644 "$VMLINUZ" "$OUT/vmlinuz.new"
install -m 644 "$WORK/initrd.img" "$OUT/initrd.img.new"
install -m 755 "$WORK/pattern-offsets.sh" "$OUT/pattern-offsets.sh"
echo "$KREL" >"$OUT/kernel-version"
chmod 644 "$OUT/kernel-version"
mv -f "$OUT/vmlinuz.new" "$OUT/vmlinuz"
mv -f "$OUT/initrd.img.new" "$OUT/initrd.img"
chmod a+rx "$OUT"
log "built $OUT/vmlinuz ($KREL) and $OUT/initrd.img ($(stat -c %s "$OUT/initrd.img") bytes)"
