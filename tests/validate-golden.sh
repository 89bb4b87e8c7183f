#!/usr/bin/env bash
# Every golden domain, volume, pool and network document must pass libvirt's own
# schema (virt-xml-validate from libvirt-clients).
set -euo pipefail
dir=$1
command -v virt-xml-validate >/dev/null ||
    { echo "virt-xml-validate is missing (package libvirt-clients)"; exit 1; }
n=0
for f in "$dir"/domain-*.xml; do virt-xml-validate "$f" domain; n=$((n + 1)); done
for f in "$dir"/volume*.xml; do virt-xml-validate "$f" storagevol; n=$((n + 1)); done
for f in "$dir"/pool-*.xml; do virt-xml-validate "$f" storagepool; n=$((n + 1)); done
for f in "$dir"/network-*.xml; do virt-xml-validate "$f" network; n=$((n + 1)); done
echo "$n documents valid"
