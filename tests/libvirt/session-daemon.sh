#!/bin/bash
# session-daemon.sh {start|stop|restart|purge|env} DIR
#
# Runs an isolated session-mode libvirtd for the integration tests.  Every file
# the daemon (and the qemu it spawns) touches lives under DIR:
#   DIR/run      XDG_RUNTIME_DIR  (socket: DIR/run/libvirt/libvirt-sock)
#   DIR/config   XDG_CONFIG_HOME  (domain XML, qemu monitor sockets, ...)
#   DIR/cache    XDG_CACHE_HOME   (qemu capabilities cache)
#   DIR/data     XDG_DATA_HOME    (default images dir DIR/data/libvirt/images)
#   DIR/home     HOME
#   DIR/libvirtd.log  daemon stdout/stderr
#
#   start DIR    As root: ensures user vp-test (or $VP_TEST_DAEMON_USER, a
#                vp-* name) exists and runs libvirtd as it; as another user:
#                runs it as that user.  Waits until
#                the socket answers, then prints shell assignments:
#                  eval "$(session-daemon.sh start DIR)"
#                sets VP_TEST_URI VP_TEST_DAEMON_PID VP_TEST_USER VP_TEST_DIR
#                VP_TEST_IMAGES.  If a daemon for DIR already answers, prints
#                its assignments again.
#   stop DIR     Kills the daemon, the qemu (and virtlogd) it started, removes
#                the runtime dir.  Idempotent.  Logs, config and data stay.
#   restart DIR  kill -9 the daemon (guests keep running) and start again on
#                the same dirs and socket; prints the assignments like start.
#   purge DIR    stop, then rm -rf DIR.
#   env DIR      prints the assignments of the running daemon (fails if none).
#
# Never touches a system libvirtd or /var/run/libvirt: the daemon is always
# unprivileged and always reached through an explicit socket path.
# Fails (non-zero, message on stderr) if anything needed is missing.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
umask 022
# shellcheck source=common.sh
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

# daemon user when invoked as root; hosts.sh picks one per host
TEST_USER_ROOT=${VP_TEST_DAEMON_USER:-vp-test}
case $TEST_USER_ROOT in
    vp-[a-z0-9-]*) ;;
    *) echo "session-daemon: ERROR: VP_TEST_DAEMON_USER must start with vp-" >&2; exit 2 ;;
esac
TEST_USER_HOME=/var/lib/$TEST_USER_ROOT
START_TIMEOUT=${VP_TEST_START_TIMEOUT:-60}

die() { echo "session-daemon: ERROR: $*" >&2; exit 1; }
log() { echo "session-daemon: $*" >&2; }

usage() { echo "usage: $0 {start|stop|restart|purge|env} DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
[ -n "$2" ] || usage
case $2 in /*) DIR=$2 ;; *) DIR=$PWD/$2 ;; esac
DIR=${DIR%/}
case $DIR in
    ''|/|/var/run|/var/run/*|/run|/run/libvirt|/run/libvirt/*|/var/lib/libvirt|/var/lib/libvirt/*|/etc|/etc/*)
        die "refusing to use '$DIR' as test directory" ;;
esac

RUNDIR=$DIR/run
SOCK=$RUNDIR/libvirt/libvirt-sock
URI="qemu+unix:///session?socket=$SOCK"
IMAGES=$DIR/data/libvirt/images
PIDFILE=$DIR/daemon.pid
USERFILE=$DIR/daemon.user
LOGFILE=$DIR/libvirtd.log

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            die "required program '$t' not found (apt-get install -y --no-install-recommends libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86)"
    done
}

# --- who runs the daemon ------------------------------------------------------
am_root() { [ "$(id -u)" -eq 0 ]; }

ensure_test_user() {
    if ! getent passwd "$TEST_USER_ROOT" >/dev/null; then
        need useradd
        log "creating user $TEST_USER_ROOT"
        useradd -r -m -d "$TEST_USER_HOME" -s /usr/sbin/nologin \
                -c "virt-provision test session libvirtd" "$TEST_USER_ROOT" 2>/dev/null ||
            getent passwd "$TEST_USER_ROOT" >/dev/null ||   # lost a race: fine
            die "useradd $TEST_USER_ROOT failed"
    fi
}

daemon_user() {
    if am_root; then echo "$TEST_USER_ROOT"; else id -un; fi
}

# USER_CMD: prefix that runs a command as daemon user $1 with a clean
# environment whose HOME and XDG_* directories are all under DIR
set_user_cmd() {
    local u=$1
    USER_CMD=()
    if am_root; then
        USER_CMD=(setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --)
    fi
    USER_CMD+=(env -i
        HOME="$DIR/home" USER="$u" LOGNAME="$u"
        PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
        XDG_RUNTIME_DIR="$RUNDIR" XDG_CONFIG_HOME="$DIR/config"
        XDG_CACHE_HOME="$DIR/cache" XDG_DATA_HOME="$DIR/data")
}

# --- process discovery --------------------------------------------------------

is_our_libvirtd() {  # pid: a libvirtd whose XDG_RUNTIME_DIR is ours
    local p=$1
    alive "$p" || return 1
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(command -v libvirtd 2>/dev/null || echo /usr/sbin/libvirtd)" ] || return 1
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "XDG_RUNTIME_DIR=$RUNDIR"
}

daemon_pid() {  # prints the pid of our running libvirtd, or fails
    local p
    for p in "$(cat "$PIDFILE" 2>/dev/null || true)" \
             "$(cat "$RUNDIR/libvirt/libvirtd.pid" 2>/dev/null || true)"; do
        if is_our_libvirtd "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

# every process that belongs to this test daemon: libvirtd, virtlogd,
# virtlockd, qemu-system-* whose environment or command line names DIR/
dir_procs() {
    local d p exe
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = $$ ] && continue
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case ${exe##*/} in
            libvirtd|virtlogd|virtlockd|qemu-system-*|virtiofsd|swtpm) ;;
            *) continue ;;
        esac
        if tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qF "=$DIR/" ||
           tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qF "$DIR/"; then
            echo "$p"
        fi
    done
}

print_env() {
    local pid=$1 u=$2
    echo "VP_TEST_URI=$(sq "$URI")"
    echo "VP_TEST_DAEMON_PID=$pid"
    echo "VP_TEST_USER=$(sq "$u")"
    echo "VP_TEST_DIR=$(sq "$DIR")"
    echo "VP_TEST_IMAGES=$(sq "$IMAGES")"
}

answers() {
    timeout 10 virsh -q -c "$URI" uri >/dev/null 2>&1
}

# --- start --------------------------------------------------------------------
do_start() {
    need libvirtd virsh setpriv timeout qemu-img qemu-system-x86_64
    local drv
    drv=$(find /usr/lib/*/libvirt/connection-driver /usr/lib/libvirt/connection-driver \
               -name 'libvirt_driver_qemu.so' 2>/dev/null | head -n1 || true)
    [ -n "$drv" ] || die "libvirt QEMU driver not installed (package libvirt-daemon-driver-qemu)"

    [ ${#SOCK} -lt 100 ] || die "DIR too long: socket path '$SOCK' exceeds the unix socket limit"
    # qemu's monitor socket is DIR/config/libvirt/qemu/lib/domain-<id-name,
    # max 20 chars>/monitor.sock: DIR + 65 bytes must stay below 108
    [ ${#DIR} -le 42 ] || log "warning: DIR is ${#DIR} chars (> 42): qemu monitor socket paths may exceed the 107-byte unix socket limit for long domain names"

    local u pid
    if am_root; then ensure_test_user; fi
    u=$(daemon_user)

    if pid=$(daemon_pid) && answers; then
        log "daemon for $DIR already running (pid $pid)"
        print_env "$pid" "$u"
        return 0
    fi
    if pid=$(daemon_pid); then
        die "libvirtd pid $pid for $DIR is running but does not answer on $SOCK; run '$0 stop $DIR' first"
    fi

    mkdir -p "$DIR"
    if am_root; then
        # the daemon user must traverse DIR and its parents
        chmod a+x "$DIR"
    fi
    local sub
    for sub in run config cache data home data/libvirt data/libvirt/images; do
        mkdir -p "$DIR/$sub"
        if am_root; then chown "$u:$(id -g "$u")" "$DIR/$sub"; fi
    done
    chmod 700 "$RUNDIR"
    set_user_cmd "$u"
    "${USER_CMD[@]}" test -w "$RUNDIR" -a -w "$DIR/config" -a -w "$IMAGES" -a -x "$DIR" ||
        die "user $u cannot write under $DIR (is a parent directory of $DIR closed to it?)"

    # leftovers of a killed daemon
    rm -f "$SOCK" "$RUNDIR/libvirt/libvirt-admin-sock" "$RUNDIR/libvirt/libvirt-sock-ro"
    echo "$u" >"$USERFILE"

    {
        echo "=== $(date '+%F %T') starting libvirtd as $u for $DIR"
    } >>"$LOGFILE"
    # No --timeout: the daemon lives until stop.  setsid detaches it from the
    # caller's session; stdio goes to the log so that $(...) callers return.
    (
        cd /
        exec setsid "${USER_CMD[@]}" libvirtd
    ) </dev/null >>"$LOGFILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"

    local end=$((SECONDS + START_TIMEOUT))
    until answers; do
        if ! alive "$pid"; then
            tail -n 20 "$LOGFILE" >&2 || true
            die "libvirtd exited during start-up (log: $LOGFILE)"
        fi
        if [ $SECONDS -ge $end ]; then
            tail -n 20 "$LOGFILE" >&2 || true
            die "libvirtd (pid $pid) did not answer on $SOCK within ${START_TIMEOUT}s (log: $LOGFILE)"
        fi
        sleep 0.1
    done
    is_our_libvirtd "$pid" || die "pid $pid is not the libvirtd for $DIR (setsid forked?)"
    # the QEMU driver must be what answers
    local ver
    ver=$(timeout 60 virsh -c "$URI" version 2>&1) ||
        die "virsh -c $URI version failed: $ver"
    case $ver in
        *QEMU*) ;;
        *) die "daemon on $SOCK answers but has no QEMU hypervisor: $ver" ;;
    esac
    print_env "$pid" "$u"
}

# --- stop ---------------------------------------------------------------------
do_stop() {
    if [ ! -d "$DIR" ]; then
        log "$DIR does not exist: nothing to stop"
        return 0
    fi
    local pids left
    pids=$( { daemon_pid || true; dir_procs; } | sort -un | tr '\n' ' ')
    if [ -n "${pids// }" ]; then
        log "stopping pids:$(for p in $pids; do printf ' %s(%s)' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        # shellcheck disable=SC2086
        if ! left=$(wait_gone 10 $pids); then
            log "SIGKILL:$left"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            # shellcheck disable=SC2086
            left=$(wait_gone 10 $left) || die "processes$left survived SIGKILL"
        fi
    fi
    # a second sweep catches anything spawned while we were killing
    pids=$(dir_procs | tr '\n' ' ')
    if [ -n "${pids// }" ]; then
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        # shellcheck disable=SC2086
        wait_gone 10 $pids >/dev/null || die "processes $pids survived SIGKILL"
    fi
    rm -rf "$RUNDIR"
    rm -f "$PIDFILE"
    echo "=== $(date '+%F %T') stopped" >>"$LOGFILE" 2>/dev/null || true
}

# --- restart ------------------------------------------------------------------
do_restart() {
    local pid
    if pid=$(daemon_pid); then
        log "kill -9 libvirtd pid $pid"
        kill -KILL "$pid"
        wait_gone 10 "$pid" >/dev/null || die "libvirtd $pid survived SIGKILL"
    else
        log "no running libvirtd for $DIR; starting one"
    fi
    do_start
}

case $CMD in
    start)   do_start ;;
    stop)    do_stop ;;
    restart) do_restart ;;
    purge)   do_stop; rm -rf "$DIR" ;;
    env)
        pid=$(daemon_pid) || die "no libvirtd running for $DIR"
        answers || die "libvirtd $pid for $DIR does not answer on $SOCK"
        print_env "$pid" "$(cat "$USERFILE")"
        ;;
    *) usage ;;
esac
