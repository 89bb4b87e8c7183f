/* A lab's network identity, pure arithmetic (design.md, "Lab networks,
 * guest identity and readiness"): IPv4 subnets and addresses, each host's
 * /24 of a lab network, guests' MACs derived from (lab, guest, NIC) and
 * addresses chosen stably, both avoiding what a host already uses.  No
 * libvirt, no I/O: the planner gives what it read from the hosts, and the
 * tests give tables (tests/test-lab-net.c).
 *
 * Addresses are IPv4 in host byte order.  Lab networks are IPv4 only: a
 * lab's guests get their addresses from libvirt's dnsmasq, whose IPv6
 * reservations libvirt ties to DUIDs nobody knows in advance. */
#pragma once

#include <glib.h>

typedef struct {
    guint32 addr;        /* the network address: host bits zero */
    guint prefix;        /* 0..32 */
} VpIpv4Net;

/* A dotted quad, strictly: four decimal parts 0..255 without leading
 * zeros or signs ("010.1.1.1" is octal to inet_aton: refused). */
gboolean vp_ipv4_parse(const char *text, guint32 *addr);

/* ADDR as a dotted quad.  Caller frees. */
char *vp_ipv4_format(guint32 addr);

/* "A.B.C.D/P" with the host bits zero.  FALSE for anything else. */
gboolean vp_ipv4_net_parse(const char *text, VpIpv4Net *net);

/* The network of ADDR with PREFIX (its host bits cleared). */
VpIpv4Net vp_ipv4_net_of(guint32 addr, guint prefix);

gboolean vp_ipv4_net_contains(const VpIpv4Net *net, guint32 addr);
gboolean vp_ipv4_net_overlaps(const VpIpv4Net *a, const VpIpv4Net *b);

/* The /24 of the host at INDEX (0-based, the order of the manifest's
 * hosts:) within a lab network's CIDR: the INDEX-th /24 of it.  FALSE
 * when CIDR is narrower than /24 or has fewer /24s than INDEX + 1. */
gboolean vp_lab_host_subnet(const VpIpv4Net *cidr, guint index,
                            VpIpv4Net *out);

/* Within a host's /24 of a lab network: .1 is the host's own (the
 * bridge), .2 to .127 libvirt's DHCP range for whatever asks, .128 to
 * .254 the lab's reservations. */
#define VP_LAB_NET_HOST 1
#define VP_LAB_NET_RANGE_FIRST 2
#define VP_LAB_NET_RANGE_LAST 127
#define VP_LAB_NET_RESERVED_FIRST 128
#define VP_LAB_NET_RESERVED_LAST 254

/* The MAC of NIC number NIC (0-based) of guest GUEST of lab LAB, on try
 * ATTEMPT (0 first): 52:54:00 (QEMU's prefix) and three bytes of
 * SHA-256(LAB, GUEST, NIC, ATTEMPT), lower case.  Caller frees. */
char *vp_lab_mac(const char *lab, const char *guest, guint nic, guint attempt);

/* The first of vp_lab_mac(LAB, GUEST, NIC, 0, 1, ...) that TAKEN (a set
 * of lower-case MAC strings: every MAC of the host) does not hold, or
 * NULL after 64 tries (a host with millions of NICs).  Caller frees. */
char *vp_lab_pick_mac(const char *lab, const char *guest, guint nic,
                      GHashTable *taken);

/* A stable address for NIC NIC of GUEST of LAB between FIRST and LAST
 * (inclusive, FIRST <= LAST) that TAKEN (a set of addresses as
 * GUINT_TO_POINTER) does not hold: the one a hash of (LAB, GUEST, NIC)
 * names, else the next free one, wrapping.  FALSE when all are taken. */
gboolean vp_lab_pick_address(const char *lab, const char *guest, guint nic,
                             guint32 first, guint32 last, GHashTable *taken,
                             guint32 *out);
