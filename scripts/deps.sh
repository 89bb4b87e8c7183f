# Package lists and the installer shared by scripts/quickstart and
# scripts/test (sourced, not run).  Debian 12 package names.

VP_BUILD_PACKAGES="cmake make gcc pkg-config gettext libglib2.0-dev
    libjson-glib-dev libxml2-dev libvirt-dev zlib1g-dev libisofs-dev libfyaml-dev"
VP_RUNTIME_PACKAGES="libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu
    qemu-system-x86 qemu-utils"
# openssh-server for its sshd binary: tests/libvirt/hosts.sh runs an sshd of
# its own on 127.0.0.1 (where systemd runs, the package also enables ssh.service).
# ansible-core for ansible-inventory, which reads status --inventory back
# (tests/lab_inventory.py); the ansible package adds 250 MB of collections.
# gdb stops a destroy between reading a domain and removing it (lab_trust.py);
# universal-ctags gives tests/sizes.py the extent of every function.
# dnsmasq-base, iptables and iproute2 for tests/libvirt/system-hosts.sh: each
# simulated system hypervisor (tests/lab.py SystemLab) has a NAT network
# default that libvirt's network driver serves with dnsmasq and iptables
# inside the host's network namespace, and a veth into a bridge (ip);
# util-linux gives it unshare and nsenter.
VP_TEST_PACKAGES="python3 qemu-utils clang libclang-rt-14-dev util-linux
    libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu qemu-system-x86
    busybox-static cpio man-db groff-base locales genisoimage xorriso python3-yaml
    mmdebstrap e2fsprogs openssh-client openssh-server ansible-core gdb
    universal-ctags dnsmasq-base iptables iproute2"

# Installs the named packages that are missing.  As root directly; as an
# ordinary user through sudo; without sudo it names the command to run.
vp_install_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
                grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    echo "Installing: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        sh -c "$cmd"
    elif command -v sudo >/dev/null 2>&1; then
        sudo sh -c "$cmd"
    else
        echo "These packages are missing and there is no sudo here; as root, run:" >&2
        echo "    $cmd" >&2
        return 1
    fi
}
