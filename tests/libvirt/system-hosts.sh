#!/bin/bash
# system-hosts.sh {start DIR N|env DIR|stop DIR|purge DIR}
#
# N simulated hypervisors on this machine, as the lab's users run them: host
# K (1..N) is a system-mode libvirtd, reached as
#   qemu+ssh://root@10.213.S.(10+K)/system?keyfile=DIR/ssh/client_key&no_tty=1
# Each host is a network namespace and a mount namespace of its own, kept
# alive by one holder process (`unshare --mount --net --propagation private
# sleep infinity`) and entered with `nsenter -t HOLDER -m -n`.  Inside it:
#   /etc/libvirt        bind mount of DIR/hK/etc, a copy of the machine's
#                       (without its domains, networks, pools and secrets)
#                       plus qemu.conf: namespaces = [], no cgroups
#   /var/lib/libvirt    bind mount of DIR/hK/lib   (images: DIR/hK/lib/images)
#   /var/cache/libvirt  bind mount of DIR/hK/cache
#   /var/log/libvirt    bind mount of DIR/hK/log   (libvirtd.log, qemu/)
#   /run/libvirt        a tmpfs: sockets, the pid files of virtlogd, libvirtd,
#                       sshd and dnsmasq, the sshd's authorized_keys
#   /dev/kvm            an empty file of mode 000 bound over it: see below
#   eth0                10.213.S.(10+K)/24, a veth into the bridge vpsysS that
#                       this script owns (10.213.S.1/24), no default route
#   virbr0              the NAT network "default", 192.168.(120+K).0/24,
#                       dnsmasq for DHCP, autostarted
#   sshd                on 10.213.S.(10+K):22, root by the suite's key only
#                       (DIR/ssh/client_key), TCP forwarding for ProxyJump
# S is the first free slot in 1..254 (no link vpsysS, nothing routed to
# 10.213.S.0/24).  No pool is defined: a fresh system daemon has none, and
# the product must create "default" itself (at /var/lib/libvirt/images).
#
# /dev/kvm: here it exists but only root may open it.  A system daemon then
# probes QEMU with KVM (as root), finds that its qemu user cannot use
# /dev/kvm, declares the cached capabilities invalid and probes again on
# every call that needs them (minutes per lab).  Hidden, QEMU is probed once
# for TCG; `namespaces = []` lets guests start (libvirt's private /dev per
# guest cannot copy the file bound over /dev/kvm).  start checks that no
# host offers KVM.
#
# Where a mount point (/var/lib/libvirt, /run/libvirt, ...) does not exist on
# this machine, its parent gets an overlay inside the namespace (upper dir
# under DIR/hK/ovl), so the directory is made there and not on the machine.
#
#   start DIR N  As root only: creates the user libvirt-qemu if missing
#                (libvirtd's QEMU driver refuses to load without it), starts
#                the N hosts, waits until each answers over ssh, then prints
#                shell assignments:
#                  VP_HOSTS_N VP_HOSTS_DIR VP_HOSTS_SSH_KEY
#                  VP_HOSTS_SSH_CONFIG VP_HOSTS_KNOWN_HOSTS VP_HOSTS_BRIDGE
#                  VP_HOSTK_NAME VP_HOSTK_URI VP_HOSTK_USER VP_HOSTK_IMAGES
#                  VP_HOSTK_LOCAL_IMAGES VP_HOSTK_DAEMON_PID
#                  VP_HOSTK_TRANSPORT (ssh) VP_HOSTK_ADDRESS
#                  VP_HOSTK_HOLDER_PID VP_HOSTK_GUEST_SUBNET
#                On a started DIR it starts what is missing (a killed
#                libvirtd, a host whose holder died) and prints them again.
#   env DIR      prints the assignments of running hosts (fails if one is
#                not running).
#   stop DIR     Ends every process in each host's network namespace (the
#                daemons, dnsmasq, sshd and its sessions, qemu, then the
#                holder), each by its pid; removes the bridge and the veths
#                and the entries start added to root's known_hosts.
#                Idempotent.
#   purge DIR    stop, then rm -rf DIR.
#
# The URI verifies the host key: start writes each host's entry into the
# known_hosts of the caller (ssh reads no other file for libvirt's ssh
# transport) and stop removes them again (the file and ~/.ssh too if start
# made them).  DIR/ssh/known_hosts and DIR/ssh/config hold the same keys
# for the suite's own ssh (ProxyJump to guests: ssh -F DIR/ssh/config).
#
# Nothing else changes outside the namespaces: no forwarding or NAT from the
# bridge (a namespace has no default route), no cgroups (qemu.conf
# cgroup_controllers = []), no system libvirtd, sshd or /run/libvirt of the
# machine is touched.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
umask 022

SELF=$(readlink -f "$0")
# shellcheck source=common.sh
. "${SELF%/*}/common.sh"
START_TIMEOUT=${VP_TEST_START_TIMEOUT:-120}
MAX_HOSTS=16
NET=10.213
SSHD=/usr/sbin/sshd
PKGS="libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 openssh-server openssh-client dnsmasq-base iptables iproute2 util-linux"

die() { echo "system-hosts: ERROR: $*" >&2; exit 1; }
log() { echo "system-hosts: $*" >&2; }
usage() { echo "usage: $0 {start DIR N|env DIR|stop DIR|purge DIR}" >&2; exit 2; }

{ [ $# -ge 2 ] && [ $# -le 3 ]; } || usage
CMD=$1
[ -n "$2" ] || usage
case $2 in /*) DIR=$2 ;; *) DIR=$PWD/$2 ;; esac
DIR=${DIR%/}
case $DIR in
    ''|/|/var|/var/*|/run|/run/*|/etc|/etc/*|/home|/root|/usr|/usr/*|/tmp)
        die "refusing to use '$DIR' as test directory" ;;
esac
N=${3:-}
SSHDIR=$DIR/ssh
NFILE=$DIR/hosts.n
SLOTFILE=$DIR/slot

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            die "required program '$t' not found (apt-get install -y --no-install-recommends $PKGS)"
    done
}

require_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    die "must run as root: every host is a system libvirtd in network and mount
  namespaces of its own (unshare, bind mounts, a bridge and veths need root),
  reached as root over an sshd of its own.  As $(id -un) this script can do
  none of that, and it does not pretend to: use hosts.sh (session daemons) for
  unprivileged runs, or run this as root (sudo)."
}

# One start or stop at a time on this machine: slots, the bridge and root's
# known_hosts are shared.  The lock is the script file itself (no new file).
lock() { exec 9<"$SELF"; flock 9; }

# --- per-host names -------------------------------------------------------------
hdir() { echo "$DIR/h$1"; }
slot() { cat "$SLOTFILE" 2>/dev/null; }
bridge() { echo "vpsys$(slot)"; }
address() { echo "$NET.$(slot).$((10 + $1))"; }
veth_out() { echo "vps$(slot)h$1"; }
veth_in() { echo "vps$(slot)n$1"; }
guest_net() { echo "192.168.$((120 + $1))"; }
uri_of() {
    echo "qemu+ssh://root@$(address "$1")/system?keyfile=$SSHDIR/client_key&no_tty=1"
}

# --- the holder and what runs in its namespaces -------------------------------
netns_of() { readlink "/proc/$1/ns/net" 2>/dev/null; }

holder_pid() {  # K: the live holder of host K, or fail
    local h p
    h=$(hdir "$1")
    p=$(cat "$h/holder.pid" 2>/dev/null) || return 1
    alive "$p" || return 1
    [ "$(netns_of "$p")" = "$(cat "$h/netns" 2>/dev/null)" ] || return 1
    echo "$p"
}

in_ns() {  # K cmd...: run cmd inside host K's namespaces, clean environment
    local hp
    hp=$(holder_pid "$1") || die "host $1 has no namespace holder"
    shift
    nsenter -t "$hp" -m -n -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        LC_ALL=C.UTF-8 HOME=/root "$@"
}

ns_procs() {  # K: every pid in host K's network namespace but the holder
    local ns hp d p
    ns=$(cat "$(hdir "$1")/netns" 2>/dev/null) || return 0
    hp=$(cat "$(hdir "$1")/holder.pid" 2>/dev/null || true)
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = "$hp" ] && continue
        [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$ns" ] && echo "$p"
    done
    return 0
}

daemon_pid() {  # K NAME EXE: the pid in /run/libvirt/NAME.pid of host K, if
    # that process runs EXE in the host's namespace
    local hp p
    hp=$(holder_pid "$1") || return 1
    p=$(cat "/proc/$hp/root/run/libvirt/$2.pid" 2>/dev/null) || return 1
    p=${p//[!0-9]/}
    alive "$p" || return 1
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$3" ] || return 1
    [ "$(netns_of "$p")" = "$(netns_of "$hp")" ] || return 1
    echo "$p"
}

end_pids() {  # what pid...: TERM, then KILL what is left after 10 s
    local what=$1 left; shift
    [ $# -gt 0 ] || return 0
    log "$what: ending$(for p in "$@"; do printf ' %s(%s)' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
    kill -TERM "$@" 2>/dev/null || true
    if ! left=$(wait_gone 10 "$@"); then
        log "$what: SIGKILL$left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        # shellcheck disable=SC2086
        left=$(wait_gone 10 $left) || die "$what: processes$left survived SIGKILL"
    fi
}

# --- machine-wide prerequisites -----------------------------------------------
ensure_qemu_user() {
    # libvirtd's QEMU driver will not load as root without it (Debian's
    # libvirt-daemon-system would create it; that package is not needed)
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu 2>/dev/null ||
        getent group libvirt-qemu >/dev/null || die "groupadd libvirt-qemu failed"
    getent passwd libvirt-qemu >/dev/null ||
        useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin \
                -c "Libvirt Qemu" libvirt-qemu 2>/dev/null ||
        getent passwd libvirt-qemu >/dev/null || die "useradd libvirt-qemu failed"
}

slot_free() {  # S: no link of that name, nothing routed to the /24 but default
    ! ip link show "vpsys$1" >/dev/null 2>&1 &&
        [ -z "$(ip -4 -o addr show to "$NET.$1.0/24")" ] &&
        ! ip -4 route show to match "$NET.$1.1" | grep -qv '^default'
}

v6_off() {  # IFACE [K]: no IPv6 chatter on the suite's links
    local f=/proc/sys/net/ipv6/conf/$1/disable_ipv6
    if [ -n "${2:-}" ]; then
        in_ns "$2" sh -c "[ ! -e $f ] || echo 1 >$f"
    elif [ -e "$f" ]; then
        echo 1 >"$f"
    fi
}

ensure_bridge() {
    local s br
    if [ -f "$SLOTFILE" ]; then
        br=$(bridge)
        ip link show "$br" >/dev/null 2>&1 && return 0
        slot_free "$(slot)" || die "slot $(slot) of $DIR was taken meanwhile: run '$0 purge $DIR'"
    else
        for s in $(seq 1 254); do
            if slot_free "$s"; then echo "$s" >"$SLOTFILE"; break; fi
        done
        [ -f "$SLOTFILE" ] || die "no free $NET.S.0/24 (S in 1..254) for the bridge"
        br=$(bridge)
    fi
    log "bridge $br $NET.$(slot).1/24"
    ip link add name "$br" type bridge
    v6_off "$br"
    ip addr add "$NET.$(slot).1/24" dev "$br"
    ip link set "$br" up
}

# root's known_hosts (common.sh): ssh reads only that file (and the system
# one) for libvirt's ssh transport, which has no option to name another

addresses() {  # every address a host of this slot may have
    local k
    for k in $(seq 1 "$MAX_HOSTS"); do address "$k"; done
}

write_host_keys() {  # N: the entries of every host, here and in root's file
    local n=$1 kh k key
    key=$(cut -d' ' -f1,2 "$SSHDIR/host_key.pub")
    : >"$SSHDIR/known_hosts"
    for k in $(seq 1 "$n"); do
        echo "$(address "$k") $key" >>"$SSHDIR/known_hosts"
    done
    note_known_hosts
    kh=$(known_hosts)
    [ -e "${kh%/*}" ] || install -d -m 700 "${kh%/*}"
    [ -e "$kh" ] || install -m 600 /dev/null "$kh"
    # shellcheck disable=SC2046
    forget_known_hosts $(addresses)   # stale ones of an earlier run of this slot
    cat "$SSHDIR/known_hosts" >>"$kh"
}

ensure_keys() {
    install -d -m 700 "$SSHDIR"
    [ -f "$SSHDIR/host_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "vp-system-hosts-host" -f "$SSHDIR/host_key"
    [ -f "$SSHDIR/client_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "vp-system-hosts-client" -f "$SSHDIR/client_key"
    chmod 600 "$SSHDIR/host_key" "$SSHDIR/client_key"
    cat >"$SSHDIR/config" <<EOF
# ssh -F this file: the suite's hosts by their veth addresses (ProxyJump
# through them reaches guests on their NAT networks)
Host $NET.*
    User root
    IdentityFile $SSHDIR/client_key
    IdentitiesOnly yes
    UserKnownHostsFile $SSHDIR/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
EOF
}

# --- one host -----------------------------------------------------------------
set_conf() {  # FILE KEY VALUE: KEY = VALUE, earlier settings commented out
    touch "$1"
    sed -i "s/^[[:space:]]*$2[[:space:]]*=/#&/" "$1"
    echo "$2 = $3" >>"$1"
}

make_config() {  # K: DIR/hK/etc, a copy of /etc/libvirt without its objects
    local h
    h=$(hdir "$1")
    rm -rf "${h:?}/etc"
    mkdir -p "$h/etc"
    [ -d /etc/libvirt ] && cp -a /etc/libvirt/. "$h/etc/"
    rm -rf "$h/etc/qemu" "$h/etc/storage" "$h/etc/secrets"
    mkdir -p "$h/etc/qemu"
    set_conf "$h/etc/qemu.conf" namespaces "[]"
    # qemu's cgroups would be made in the machine's /sys/fs/cgroup
    set_conf "$h/etc/qemu.conf" cgroup_controllers "[]"
    set_conf "$h/etc/libvirtd.conf" log_outputs '"3:file:/var/log/libvirt/libvirtd.log"'
    set_conf "$h/etc/virtlogd.conf" log_outputs '"3:file:/var/log/libvirt/virtlogd.log"'
}

ns_dir() {  # K PATH: make PATH exist inside host K's mount namespace; where
    # it is missing, its parent gets an overlay whose upper dir is under DIR
    local k=$1 p=$2 parent ovl
    in_ns "$k" test -d "$p" && return 0
    parent=${p%/*}
    in_ns "$k" test -d "$parent" || die "$parent does not exist on this machine"
    ovl=$(hdir "$k")/ovl/$(printf '%s' "$parent" | tr / _)
    if [ ! -d "$ovl" ]; then
        mkdir -p "$ovl/upper" "$ovl/work"
        in_ns "$k" mount -t overlay vp-ovl \
            -o "lowerdir=$parent,upperdir=$ovl/upper,workdir=$ovl/work" "$parent"
    fi
    in_ns "$k" mkdir -p "$p"
}

make_holder() {  # K
    local k=$1 h hp end
    h=$(hdir "$k")
    # setsid: not in the caller's process group (a Ctrl-C there must not end
    # a host); not a group leader here, so setsid execs instead of forking
    setsid unshare --mount --net --propagation private -- sleep infinity \
        </dev/null >/dev/null 2>&1 &
    hp=$!
    end=$((SECONDS + 10))
    while [ "$(netns_of "$hp")" = "$(netns_of $$)" ] ||
          [ "$(readlink "/proc/$hp/exe" 2>/dev/null)" != "$(readlink -f "$(command -v sleep)")" ]; do
        alive "$hp" || die "host $k: unshare failed"
        [ $SECONDS -lt $end ] || die "host $k: holder $hp never entered its namespaces"
        sleep 0.05
    done
    echo "$hp" >"$h/holder.pid"
    netns_of "$hp" >"$h/netns"
}

make_mounts() {  # K
    local k=$1 h d
    h=$(hdir "$k")
    mkdir -p "$h/lib" "$h/cache" "$h/log/qemu"
    chmod 755 "$h" "$h/lib"   # qemu (libvirt-qemu) reaches images and boot files
    for d in /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt \
             /run/libvirt /run/sshd; do
        ns_dir "$k" "$d"
    done
    in_ns "$k" mount --bind "$h/etc" /etc/libvirt
    in_ns "$k" mount --bind "$h/lib" /var/lib/libvirt
    in_ns "$k" mount --bind "$h/cache" /var/cache/libvirt
    in_ns "$k" mount --bind "$h/log" /var/log/libvirt
    in_ns "$k" mount -t tmpfs -o mode=0755,size=64m vp-run-libvirt /run/libvirt
    if in_ns "$k" test -e /dev/kvm; then
        : >"$h/nokvm"
        chmod 000 "$h/nokvm"
        in_ns "$k" mount --bind "$h/nokvm" /dev/kvm
    fi
}

make_link() {  # K
    local k=$1 out in hp
    out=$(veth_out "$k"); in=$(veth_in "$k"); hp=$(holder_pid "$k")
    ip link del "$out" 2>/dev/null || true
    ip link add "$out" type veth peer name "$in"
    v6_off "$out"
    ip link set "$in" netns "$hp"
    ip link set "$out" master "$(bridge)" up
    in_ns "$k" ip link set "$in" name eth0
    v6_off eth0 "$k"
    in_ns "$k" ip addr add "$(address "$k")/24" dev eth0
    in_ns "$k" ip link set eth0 up
    in_ns "$k" ip link set lo up
}

answers() {  # K
    in_ns "$1" timeout 30 virsh -q -c qemu:///system uri >/dev/null 2>&1
}

start_daemons() {  # K: virtlogd and libvirtd, if not running
    local k=$1 h pid end
    h=$(hdir "$k")
    if ! daemon_pid "$k" virtlogd "$(command -v virtlogd)" >/dev/null; then
        in_ns "$k" virtlogd -d -p /run/libvirt/virtlogd.pid </dev/null >>"$h/daemons.out" 2>&1 ||
            die "host $k: virtlogd did not start ($h/daemons.out)"
    fi
    if pid=$(daemon_pid "$k" libvirtd "$(command -v libvirtd)") && answers "$k"; then
        return 0
    fi
    [ -z "${pid:-}" ] || die "host $k: libvirtd $pid does not answer; run '$0 stop $DIR'"
    echo "=== $(date '+%F %T') starting libvirtd" >>"$h/log/libvirtd.log"
    in_ns "$k" libvirtd -d -p /run/libvirt/libvirtd.pid </dev/null >>"$h/daemons.out" 2>&1 ||
        die "host $k: libvirtd did not start ($h/daemons.out, $h/log/libvirtd.log)"
    end=$((SECONDS + START_TIMEOUT))
    until answers "$k"; do
        [ $SECONDS -lt $end ] ||
            die "host $k: libvirtd did not answer within ${START_TIMEOUT}s ($h/log/libvirtd.log)"
        sleep 0.1
    done
}

check_tcg() {  # K: QEMU probed without KVM (the /dev/kvm trap)
    local k=$1 caps t=$SECONDS
    caps=$(in_ns "$k" virsh -q -c qemu:///system capabilities) ||
        die "host $k: virsh capabilities failed"
    case $caps in
        *"<domain type='qemu'"*) ;;
        *) die "host $k: QEMU offers no TCG domain: $caps" ;;
    esac
    case $caps in
        *"<domain type='kvm'"*) die "host $k: QEMU was probed with KVM although /dev/kvm is hidden" ;;
    esac
    log "host $k: QEMU probed for TCG in $((SECONDS - t)) s"
}

ensure_network() {  # K: the NAT network default, active and autostarted
    local k=$1 h g info
    h=$(hdir "$k"); g=$(guest_net "$k")
    if ! in_ns "$k" virsh -q -c qemu:///system net-info default >/dev/null 2>&1; then
        cat >"$h/default-net.xml" <<EOF
<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='$g.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='$g.2' end='$g.254'/>
    </dhcp>
  </ip>
</network>
EOF
        in_ns "$k" virsh -q -c qemu:///system net-define "$h/default-net.xml" >/dev/null
        in_ns "$k" virsh -q -c qemu:///system net-autostart default >/dev/null
    fi
    info=$(in_ns "$k" virsh -q -c qemu:///system net-info default)
    if ! printf '%s\n' "$info" | grep -q '^Active: *yes'; then
        in_ns "$k" virsh -q -c qemu:///system net-start default >/dev/null ||
            die "host $k: the network default does not start ($h/log/libvirtd.log)"
    fi
}

write_sshd_config() {  # K
    local k=$1
    cat >"$(hdir "$k")/sshd_config" <<EOF
# sshd of simulated host $k (tests/libvirt/system-hosts.sh), inside its
# network namespace: only the veth address, root by the suite's key only
ListenAddress $(address "$k"):22
HostKey $SSHDIR/host_key
PidFile /run/libvirt/sshd.pid
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitEmptyPasswords no
StrictModes yes
# in the host's /run/libvirt (a tmpfs of its own): the machine's root
# account and its ~/.ssh are not touched
AuthorizedKeysFile /run/libvirt/ssh/authorized_keys
PermitUserEnvironment no
AllowAgentForwarding no
# ProxyJump to the guests of this host's NAT network
AllowTcpForwarding local
AllowStreamLocalForwarding no
GatewayPorts no
X11Forwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
# the lab tests open many connections at once
MaxStartups 64:30:128
MaxSessions 64
EOF
}

start_sshd() {  # K
    local k=$1 h end
    h=$(hdir "$k")
    daemon_pid "$k" sshd "$SSHD" >/dev/null && return 0
    write_sshd_config "$k"
    in_ns "$k" install -d -m 700 /run/libvirt/ssh
    in_ns "$k" install -m 600 "$SSHDIR/client_key.pub" /run/libvirt/ssh/authorized_keys
    "$SSHD" -t -f "$h/sshd_config" 2>"$h/sshd-t.err" ||
        die "sshd -t rejects $h/sshd_config: $(cat "$h/sshd-t.err")"
    echo "=== $(date '+%F %T') starting sshd on $(address "$k")" >>"$h/sshd.log"
    in_ns "$k" "$SSHD" -f "$h/sshd_config" -E "$h/sshd.log" </dev/null ||
        die "host $k: sshd did not start ($h/sshd.log)"
    end=$((SECONDS + 10))
    until daemon_pid "$k" sshd "$SSHD" >/dev/null; do
        [ $SECONDS -lt $end ] || die "host $k: sshd wrote no pid file ($h/sshd.log)"
        sleep 0.1
    done
}

stop_host() {  # K: every process in its namespace, then the holder
    local k=$1 h hp
    h=$(hdir "$k")
    # shellcheck disable=SC2046
    end_pids "host $k" $(ns_procs "$k")
    # anything spawned meanwhile (a libvirtd respawning dnsmasq)
    # shellcheck disable=SC2046
    end_pids "host $k (second sweep)" $(ns_procs "$k")
    # the veth pair at once (the kernel tears a namespace down lazily)
    if [ -f "$SLOTFILE" ] && ip link show "$(veth_out "$k")" >/dev/null 2>&1; then
        ip link del "$(veth_out "$k")"
    fi
    if hp=$(holder_pid "$k"); then
        end_pids "host $k holder" "$hp"
    fi
    rm -f "$h/holder.pid" "$h/netns"
    # the overlays' work dirs (mode 000) and the rest go with purge
}

start_host() {  # K
    local k=$1 h t=$SECONDS
    h=$(hdir "$k")
    if ! holder_pid "$k" >/dev/null; then
        stop_host "$k"   # remnants of a host whose holder died
        mkdir -p "$h"
        make_config "$k"
        make_holder "$k"
        make_mounts "$k"
        make_link "$k"
    fi
    start_daemons "$k"
    check_tcg "$k"
    ensure_network "$k"
    start_sshd "$k"
    log "host $k ($(address "$k")) up in $((SECONDS - t)) s"
}

over_ssh() {  # K: the URI answers, and reaches this very host
    local k=$1 end out
    end=$((SECONDS + START_TIMEOUT))
    until out=$(timeout 30 virsh -q -c "$(uri_of "$k")" net-dumpxml default 2>&1); do
        if [ $SECONDS -ge $end ]; then
            tail -n 20 "$(hdir "$k")/sshd.log" >&2 || true
            die "$(uri_of "$k") does not answer: $out"
        fi
        sleep 0.2
    done
    case $out in
        *"<ip address='$(guest_net "$k").1'"*) ;;
        *) die "over ssh, host $k's network default is not its own: $out" ;;
    esac
}

print_all() {  # n
    local n=$1 k lp
    echo "VP_HOSTS_N=$n"
    echo "VP_HOSTS_DIR=$(sq "$DIR")"
    echo "VP_HOSTS_SSH_KEY=$(sq "$SSHDIR/client_key")"
    echo "VP_HOSTS_SSH_CONFIG=$(sq "$SSHDIR/config")"
    echo "VP_HOSTS_KNOWN_HOSTS=$(sq "$SSHDIR/known_hosts")"
    echo "VP_HOSTS_BRIDGE=$(bridge)"
    for k in $(seq 1 "$n"); do
        holder_pid "$k" >/dev/null || die "host $k is not running"
        lp=$(daemon_pid "$k" libvirtd "$(command -v libvirtd)") ||
            die "host $k: libvirtd is not running"
        echo "VP_HOST${k}_NAME=host$k"
        echo "VP_HOST${k}_URI=$(sq "$(uri_of "$k")")"
        echo "VP_HOST${k}_USER=root"
        echo "VP_HOST${k}_IMAGES=/var/lib/libvirt/images"
        echo "VP_HOST${k}_LOCAL_IMAGES=$(sq "$(hdir "$k")/lib/images")"
        echo "VP_HOST${k}_DAEMON_PID=$lp"
        echo "VP_HOST${k}_TRANSPORT=ssh"
        echo "VP_HOST${k}_ADDRESS=$(address "$k")"
        echo "VP_HOST${k}_HOLDER_PID=$(holder_pid "$k")"
        echo "VP_HOST${k}_GUEST_SUBNET=$(guest_net "$k").0/24"
    done
}

do_start() {
    case $N in
        ''|*[!0-9]*) usage ;;
    esac
    { [ "$N" -ge 1 ] && [ "$N" -le "$MAX_HOSTS" ]; } || die "N must be 1..$MAX_HOSTS"
    require_root
    need unshare nsenter setsid flock ip virsh libvirtd virtlogd dnsmasq iptables \
         "$SSHD" ssh ssh-keygen timeout qemu-system-x86_64 groupadd useradd
    if [ -f "$NFILE" ] && [ "$(cat "$NFILE")" != "$N" ]; then
        die "$DIR holds $(cat "$NFILE") hosts, not $N: run '$0 purge $DIR' first"
    fi
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    echo "$N" >"$NFILE"
    lock
    ensure_qemu_user
    ensure_keys
    ensure_bridge
    write_host_keys "$N"
    local k
    for k in $(seq 1 "$N"); do
        start_host "$k"
    done
    flock -u 9
    for k in $(seq 1 "$N"); do
        over_ssh "$k"
    done
    local out
    out=$(print_all "$N") || exit 1
    echo "$out"
}

do_stop() {
    if [ ! -d "$DIR" ]; then
        log "$DIR does not exist: nothing to stop"
        return 0
    fi
    require_root
    lock
    local d k
    for d in "$DIR"/h[0-9]*; do
        [ -d "$d" ] || continue
        k=${d##*/h}
        stop_host "$k"
    done
    if [ -f "$SLOTFILE" ]; then
        if ip link show "$(bridge)" >/dev/null 2>&1; then
            log "removing bridge $(bridge)"
            ip link del "$(bridge)"
        fi
        # shellcheck disable=SC2046
        forget_known_hosts $(addresses)
        tidy_known_hosts
        rm -f "$SLOTFILE"
    fi
}

case $CMD in
    start) do_start ;;
    stop)  do_stop ;;
    purge) do_stop; rm -rf "$DIR" ;;
    env)   hosts_env ;;
    *) usage ;;
esac
