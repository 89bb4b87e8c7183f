# shellcheck shell=bash
# Helpers shared by session-daemon.sh, hosts.sh and system-hosts.sh (sourced,
# not run).  Each script defines die() and, for hosts_env and known_n, DIR,
# NFILE and print_all N.

# PID is running.  A zombie is not: where init reaps late (as on this kind of
# machine), an ended daemon would otherwise look alive for seconds.
alive() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# $1 quoted for the shell, for the assignments the scripts print
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# wait_gone TIMEOUT_S PID...: waits until none runs; prints the survivors
# and fails if any is left after TIMEOUT_S
wait_gone() {
    local t=$1 p left; shift
    local end=$((SECONDS + t))
    while :; do
        left=
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && return 0
        [ $SECONDS -ge $end ] && { echo "$left"; return 1; }
        sleep 0.1
    done
}

# The ssh client's known_hosts: from the passwd entry, not $HOME (ssh reads
# that one)
known_hosts() { echo "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/known_hosts"; }

# The number of hosts DIR was started with (or found in it)
known_n() {
    if [ -f "$NFILE" ]; then cat "$NFILE"; return; fi
    local n=0 d
    for d in "$DIR"/h[0-9]*; do [ -d "$d" ] && n=$((n + 1)); done
    echo "$n"
}

# The env subcommand of a host set: the assignments of every host, all or
# nothing on stdout
hosts_env() {
    [ -d "$DIR" ] || die "$DIR does not exist"
    local n out
    n=$(known_n)
    [ "$n" -ge 1 ] || die "no hosts in $DIR"
    out=$(print_all "$n") || exit 1
    echo "$out"
}

# Entries that a host set puts in (or has ssh put in) the client's
# known_hosts, and their removal.  SSHDIR is the set's ssh dir.
#
# note_known_hosts: records whether ~/.ssh and known_hosts exist yet
note_known_hosts() {
    local kh
    kh=$(known_hosts)
    [ -e "${kh%/*}" ] || : >"$SSHDIR/made-ssh-dir"
    [ -e "$kh" ] || : >"$SSHDIR/made-known-hosts"
}

# forget_known_hosts NAME...: removes the entries of each NAME
forget_known_hosts() {
    local kh n
    kh=$(known_hosts)
    [ -f "$kh" ] || return 0
    for n in "$@"; do
        if ssh-keygen -F "$n" -f "$kh" >/dev/null 2>&1; then
            ssh-keygen -q -R "$n" -f "$kh" >/dev/null 2>&1 || true
        fi
    done
    rm -f "$kh.old"
}

# tidy_known_hosts: removes known_hosts and ~/.ssh again if they were made
# for the set and are empty now
tidy_known_hosts() {
    local kh
    kh=$(known_hosts)
    if [ -f "$SSHDIR/made-known-hosts" ]; then
        [ -s "$kh" ] || rm -f "$kh"
        rm -f "$SSHDIR/made-known-hosts"
    fi
    if [ -f "$SSHDIR/made-ssh-dir" ]; then
        rmdir "${kh%/*}" 2>/dev/null || true
        rm -f "$SSHDIR/made-ssh-dir"
    fi
}
