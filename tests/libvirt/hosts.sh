#!/bin/bash
# hosts.sh {start|stop|purge|env} DIR [N]
#
# N isolated libvirt "hosts" on this machine for the multi-host tests: host I
# (1..N) is a session libvirtd of its own unprivileged user vp-hostI (home
# /var/lib/vp-hostI), run by session-daemon.sh on DIR/hI, with a dir pool
# named "default" on DIR/hI/data/libvirt/images.  Hosts 1..N-1 are reached
# over qemu+unix (the socket path); host N over real qemu+ssh through an
# OpenSSH server this script starts:
#   DIR/ssh/sshd_config    ListenAddress 127.0.0.1, a free port, key-only
#                          login (no PAM, no passwords), AllowUsers vp-hostN,
#                          StrictModes yes
#   DIR/ssh/host_key       its own ed25519 host key
#   DIR/ssh/client_key     the client key (for the invoking user, root)
#   DIR/ssh/sshd.log, sshd.pid, port
#   /var/lib/vp-hostN/.ssh/authorized_keys.vp-TAG
#                          the client key's public half (TAG: a hash of DIR,
#                          so that two DIRs never share it; StrictModes wants
#                          it in the user's home, not under a world-writable
#                          /tmp)
# Over ssh, libvirt runs virt-ssh-helper as vp-hostN, which connects to (or
# spawns) the user's session daemon at $XDG_RUNTIME_DIR/libvirt/libvirt-sock.
# Without PAM nothing sets XDG_RUNTIME_DIR (the helper would then look in
# ~/.cache/libvirt/), so a `Match User` block in sshd_config SetEnv's the
# same XDG_* directories the pre-started daemon of DIR/hN uses.
#
#   start DIR N  As root only: creates the users if missing, starts the N
#                daemons (and the sshd), waits until every URI answers
#                (qemu+ssh included), then prints shell assignments:
#                  VP_HOSTS_N VP_HOSTS_DIR VP_HOSTS_SSH_PORT VP_HOSTS_SSH_KEY
#                  VP_HOSTI_NAME VP_HOSTI_URI VP_HOSTI_USER VP_HOSTI_IMAGES
#                  VP_HOSTI_DAEMON_PID VP_HOSTI_TRANSPORT (unix|ssh)
#                Running again on a started DIR prints them again.
#   stop DIR     Stops the sshd (and its sessions) and every daemon, removes
#                the authorized_keys file and the client's known_hosts entry
#                for the port.  Idempotent.
#   purge DIR    stop, then rm -rf DIR.  The users stay (like vp-test).
#   env DIR      prints the assignments of running hosts (fails if none).
#
# Every daemon is unprivileged and reached through an explicit socket path
# or 127.0.0.1; no system libvirtd or system sshd is touched.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
SESSION=$HERE/session-daemon.sh
SSHD=/usr/sbin/sshd
START_TIMEOUT=${VP_TEST_START_TIMEOUT:-60}
MAX_HOSTS=16

die() { echo "hosts: ERROR: $*" >&2; exit 1; }
log() { echo "hosts: $*" >&2; }
usage() { echo "usage: $0 {start DIR N|stop DIR|purge DIR|env DIR}" >&2; exit 2; }

{ [ $# -ge 2 ] && [ $# -le 3 ]; } || usage
CMD=$1
[ -n "$2" ] || usage
case $2 in /*) DIR=$2 ;; *) DIR=$PWD/$2 ;; esac
DIR=${DIR%/}
case $DIR in
    ''|/|/var/run|/var/run/*|/run|/run/*|/var/lib|/var/lib/*|/etc|/etc/*|/home|/root)
        die "refusing to use '$DIR' as test directory" ;;
esac
N=${3:-}
SSHDIR=$DIR/ssh
NFILE=$DIR/hosts.n
TAG=$(printf '%s' "$DIR" | sha256sum | cut -c1-12)
AKNAME=authorized_keys.vp-$TAG

user_of() { echo "vp-host$1"; }
home_of() { echo "/var/lib/vp-host$1"; }

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            die "required program '$t' not found (apt-get install -y --no-install-recommends $PKGS)"
    done
}
PKGS="libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86 openssh-server openssh-client"


require_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    die "must run as root: each host is a libvirtd of its own user vp-host1..vp-hostN
  (useradd, and starting a process as another user, need root) and the ssh host
  needs an sshd that logs in as that user (only root's sshd can switch users).
  As $(id -un) this script can do neither, and it does not pretend to: use
  session-daemon.sh for one daemon of your own, or run this as root (sudo)."
}

# --- users --------------------------------------------------------------------
ensure_user() {  # I
    local u h
    u=$(user_of "$1"); h=$(home_of "$1")
    if ! getent passwd "$u" >/dev/null; then
        log "creating user $u"
        # a real shell: sshd runs the remote command through it
        useradd -r -m -d "$h" -s /bin/sh -c "virt-provision test host $1" "$u" 2>/dev/null ||
            getent passwd "$u" >/dev/null || die "useradd $u failed"
    fi
    [ "$(getent passwd "$u" | cut -d: -f7)" = /bin/sh ] || usermod -s /bin/sh "$u"
    # "!" (locked) makes sshd without PAM refuse the key; "*" matches no
    # password but is not locked
    case $(getent shadow "$u" | cut -d: -f2) in
        '*') ;;
        *) usermod -p '*' "$u" ;;
    esac
    mkdir -p "$h"
    chown "$u:$(id -g "$u")" "$h"
    chmod 755 "$h"
}

# --- free port ----------------------------------------------------------------
port_in_use() {  # port: anything bound to it on any address (tcp, tcp6)
    local hex
    hex=$(printf ':%04X ' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2" "}' | grep -qF "$hex"
}

pick_port() {
    local p i
    for i in $(seq 1 200); do
        # below the ephemeral range (32768-60999): no outgoing socket takes it
        p=$((20000 + RANDOM % 12000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

# --- sshd ---------------------------------------------------------------------
sshd_pid() {
    local p
    p=$(cat "$SSHDIR/sshd.pid" 2>/dev/null) || return 1
    alive "$p" || return 1
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$SSHD" ] || return 1
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$SSHDIR/sshd_config" || return 1
    echo "$p"
}

descendants() {  # pid: all its descendants
    local k
    for k in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
        echo "$k"
        descendants "$k"
    done
}

write_sshd_config() {  # port ssh-host-index
    local port=$1 i=$2 u hd
    u=$(user_of "$i"); hd=$DIR/h$i
    cat >"$SSHDIR/sshd_config" <<EOF
# sshd for the virt-provision multi-host tests (tests/libvirt/hosts.sh)
ListenAddress 127.0.0.1
Port $port
HostKey $SSHDIR/host_key
PidFile $SSHDIR/sshd.pid
# privilege separation is always on (OpenSSH 9.2 dropped the option
# UsePrivilegeSeparation); it needs /run/sshd, created by hosts.sh
UsePAM no
PermitRootLogin no
AllowUsers $u
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitEmptyPasswords no
StrictModes yes
AuthorizedKeysFile .ssh/$AKNAME
PermitUserEnvironment no
AllowAgentForwarding no
AllowTcpForwarding no
AllowStreamLocalForwarding no
X11Forwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
# the lab tests open many connections at once
MaxStartups 64:30:128
MaxSessions 64
# Without PAM nothing sets XDG_RUNTIME_DIR; virt-ssh-helper finds the
# session daemon at \$XDG_RUNTIME_DIR/libvirt/libvirt-sock (and would spawn
# one with these dirs if it were gone).
Match User $u
    SetEnv XDG_RUNTIME_DIR=$hd/run XDG_CONFIG_HOME=$hd/config XDG_CACHE_HOME=$hd/cache XDG_DATA_HOME=$hd/data LC_ALL=C.UTF-8
EOF
}

install_client_key() {  # ssh-host-index
    local i=$1 u h g
    u=$(user_of "$i"); h=$(home_of "$i"); g=$(id -g "$u")
    install -d -m 700 -o "$u" -g "$g" "$h/.ssh"
    install -m 600 -o "$u" -g "$g" "$SSHDIR/client_key.pub" "$h/.ssh/$AKNAME"
}

ssh_uri() {  # port index
    echo "qemu+ssh://$(user_of "$2")@127.0.0.1:$1/session?keyfile=$SSHDIR/client_key&no_verify=1&no_tty=1"
}

start_sshd() {  # ssh-host-index
    local i=$1 port pid try
    need "$SSHD" ssh ssh-keygen
    mkdir -p "$SSHDIR"
    chmod 700 "$SSHDIR"
    [ -d /run/sshd ] || { mkdir -p /run/sshd; chmod 755 /run/sshd; }
    [ -f "$SSHDIR/host_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "vp-hosts-host-$TAG" -f "$SSHDIR/host_key"
    [ -f "$SSHDIR/client_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C "vp-hosts-client-$TAG" -f "$SSHDIR/client_key"
    chmod 600 "$SSHDIR/host_key" "$SSHDIR/client_key"
    install_client_key "$i"
    # ssh (no_verify=1) records the host key in the client's known_hosts:
    # note what existed before so that stop removes only what ssh added
    note_known_hosts

    if pid=$(sshd_pid); then
        log "sshd for $DIR already running (pid $pid, port $(cat "$SSHDIR/port"))"
        return 0
    fi
    for try in 1 2 3 4 5; do
        port=$(pick_port) || die "no free port found in 20000-31999"
        write_sshd_config "$port" "$i"
        "$SSHD" -t -f "$SSHDIR/sshd_config" 2>"$SSHDIR/sshd-t.err" ||
            die "sshd -t rejects $SSHDIR/sshd_config: $(cat "$SSHDIR/sshd-t.err")"
        rm -f "$SSHDIR/sshd.pid"
        echo "=== $(date '+%F %T') starting sshd on 127.0.0.1:$port" >>"$SSHDIR/sshd.log"
        # daemonizes once it listens; exits non-zero if the bind fails
        if "$SSHD" -f "$SSHDIR/sshd_config" -p "$port" -E "$SSHDIR/sshd.log" </dev/null; then
            local end=$((SECONDS + 10))
            until pid=$(sshd_pid); do
                [ $SECONDS -ge $end ] && die "sshd wrote no pid file (log: $SSHDIR/sshd.log)"
                sleep 0.1
            done
            echo "$port" >"$SSHDIR/port"
            log "sshd pid $pid on 127.0.0.1:$port"
            return 0
        fi
        log "sshd could not start on port $port (try $try): $(tail -n 1 "$SSHDIR/sshd.log")"
    done
    die "sshd did not start (log: $SSHDIR/sshd.log)"
}

stop_sshd() {
    local pid procs port kh
    if pid=$(sshd_pid); then
        procs="$pid $(descendants "$pid" | tr '\n' ' ')"
        log "stopping sshd pids: $procs"
        # shellcheck disable=SC2086
        kill -TERM $procs 2>/dev/null || true
        local end=$((SECONDS + 10)) p left
        while :; do
            left=
            for p in $procs; do alive "$p" && left="$left $p"; done
            [ -z "$left" ] && break
            if [ $SECONDS -ge $end ]; then
                # shellcheck disable=SC2086
                kill -KILL $left 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    fi
    rm -f "$SSHDIR/sshd.pid"
    # the ssh client (no_verify=1) added the host key to the invoking user's
    # known_hosts; drop that entry again, it names a port of this run only
    port=$(cat "$SSHDIR/port" 2>/dev/null || true)
    [ -z "$port" ] || forget_known_hosts "[127.0.0.1]:$port"
    tidy_known_hosts
}

remove_client_keys() {
    local i
    for i in $(seq 1 "$MAX_HOSTS"); do
        rm -f "$(home_of "$i")/.ssh/$AKNAME"
    done
}

# --- hosts --------------------------------------------------------------------
answers() { timeout 30 virsh -q -c "$1" uri >/dev/null 2>&1; }

ensure_pool() {  # uri images
    local uri=$1 images=$2 out
    if ! virsh -q -c "$uri" pool-info default >/dev/null 2>&1; then
        out=$(virsh -q -c "$uri" pool-define-as default dir --target "$images" 2>&1) ||
            die "pool-define-as on $uri: $out"
    fi
    if ! virsh -q -c "$uri" pool-info default 2>/dev/null | grep -q '^State: *running'; then
        # autostart may activate it meanwhile (a restarted daemon)
        out=$(virsh -q -c "$uri" pool-start default 2>&1) ||
            case $out in *"already active"*) ;; *) die "pool-start on $uri: $out" ;; esac
    fi
    virsh -q -c "$uri" pool-autostart default >/dev/null 2>&1 || true
}

# parse one session-daemon.sh assignment block into D_URI D_PID D_USER D_IMAGES
parse_session() {
    # shellcheck disable=SC2034  # VP_TEST_DIR: assigned by the eval
    local VP_TEST_URI VP_TEST_DAEMON_PID VP_TEST_USER VP_TEST_DIR VP_TEST_IMAGES
    eval "$1"
    D_URI=$VP_TEST_URI D_PID=$VP_TEST_DAEMON_PID D_USER=$VP_TEST_USER D_IMAGES=$VP_TEST_IMAGES
}

print_all() {  # n
    local n=$1 i out port=
    [ -f "$SSHDIR/port" ] && port=$(cat "$SSHDIR/port")
    echo "VP_HOSTS_N=$n"
    echo "VP_HOSTS_DIR=$(sq "$DIR")"
    echo "VP_HOSTS_SSH_PORT=$port"
    echo "VP_HOSTS_SSH_KEY=$(sq "$SSHDIR/client_key")"
    for i in $(seq 1 "$n"); do
        out=$(VP_TEST_DAEMON_USER=$(user_of "$i") "$SESSION" env "$DIR/h$i") ||
            die "host $i ($DIR/h$i) is not running"
        parse_session "$out"
        local uri=$D_URI tr=unix
        if [ "$i" -eq "$n" ]; then
            [ -n "$port" ] || die "no sshd port recorded in $SSHDIR/port"
            uri=$(ssh_uri "$port" "$i"); tr=ssh
        fi
        echo "VP_HOST${i}_NAME=host$i"
        echo "VP_HOST${i}_URI=$(sq "$uri")"
        echo "VP_HOST${i}_USER=$(sq "$D_USER")"
        echo "VP_HOST${i}_IMAGES=$(sq "$D_IMAGES")"
        echo "VP_HOST${i}_DAEMON_PID=$D_PID"
        echo "VP_HOST${i}_TRANSPORT=$tr"
    done
}

do_start() {
    case $N in
        ''|*[!0-9]*) usage ;;
    esac
    { [ "$N" -ge 1 ] && [ "$N" -le "$MAX_HOSTS" ]; } || die "N must be 1..$MAX_HOSTS"
    require_root
    need virsh timeout useradd usermod sha256sum
    [ -x "$SESSION" ] || die "$SESSION missing"
    # DIR/hI/config/libvirt/qemu/lib/domain-ID-NAME/monitor.sock < 108 bytes
    [ $((${#DIR} + 3)) -le 42 ] ||
        log "warning: DIR is ${#DIR} chars: qemu monitor socket paths may get too long"
    if [ -f "$NFILE" ] && [ "$(cat "$NFILE")" != "$N" ]; then
        die "$DIR holds $(cat "$NFILE") hosts, not $N: run '$0 purge $DIR' first"
    fi
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    echo "$N" >"$NFILE"

    local i out
    for i in $(seq 1 "$N"); do
        ensure_user "$i"
        out=$(VP_TEST_DAEMON_USER=$(user_of "$i") "$SESSION" start "$DIR/h$i") ||
            die "session-daemon.sh start $DIR/h$i failed"
        parse_session "$out"
        [ "$D_USER" = "$(user_of "$i")" ] || die "host $i runs as $D_USER, not $(user_of "$i")"
        ensure_pool "$D_URI" "$D_IMAGES"
    done
    start_sshd "$N"

    # the ssh URI must reach the very daemon of DIR/hN
    local port uri end
    port=$(cat "$SSHDIR/port")
    uri=$(ssh_uri "$port" "$N")
    end=$((SECONDS + START_TIMEOUT))
    until answers "$uri"; do
        if [ $SECONDS -ge $end ]; then
            virsh -q -c "$uri" uri >&2 || true
            tail -n 20 "$SSHDIR/sshd.log" >&2 || true
            die "$uri does not answer (log: $SSHDIR/sshd.log)"
        fi
        sleep 0.2
    done
    out=$(virsh -q -c "$uri" pool-dumpxml default 2>&1) || die "pool-dumpxml over ssh: $out"
    parse_session "$(VP_TEST_DAEMON_USER=$(user_of "$N") "$SESSION" env "$DIR/h$N")"
    case $out in
        *"<path>$D_IMAGES</path>"*) ;;
        *) die "over ssh, pool 'default' is not the one of $DIR/h$N: $out" ;;
    esac
    out=$(print_all "$N") || exit 1
    echo "$out"
}

do_stop() {
    if [ ! -d "$DIR" ]; then
        log "$DIR does not exist: nothing to stop"
        return 0
    fi
    require_root
    stop_sshd
    remove_client_keys
    local d rc=0 i
    for d in "$DIR"/h[0-9]*; do
        [ -d "$d" ] || continue
        i=${d##*/h}
        VP_TEST_DAEMON_USER=$(user_of "$i") "$SESSION" stop "$d" || rc=1
    done
    return $rc
}

case $CMD in
    start) do_start ;;
    stop)  do_stop ;;
    purge) do_stop; rm -rf "$DIR" ;;
    env)   hosts_env ;;
    *) usage ;;
esac
