/* libvirt network XML (formatnetwork.rst): what the tool reads from a
 * network (its IPv4 subnets, DHCP range and reservations, DNS hosts, its
 * lab record) and what it writes (a lab network's definition, one DHCP
 * reservation, one DNS host).  Pure: libxml2 tree API, no libvirt headers;
 * golden files in tests/data/network-*.xml. */
#pragma once

#include <glib.h>

#include "lab-net.h"

/* One IPv4 <ip> element. */
typedef struct {
    VpIpv4Net net;        /* address & prefix as a network */
    guint32 host;         /* the host's own address on it (the bridge) */
    gboolean dhcp;        /* has a <dhcp> element */
    guint32 range_first;  /* its first <range> (0 without DHCP) */
    guint32 range_last;
} VpNetIp;

/* One <dhcp><host>: a reservation. */
typedef struct {
    char *mac;            /* lower case; NULL: by name only */
    char *name;
    guint32 ip;
} VpNetDhcpHost;

/* One <dns><host>. */
typedef struct {
    guint32 ip;
    GStrv hostnames;
} VpNetDnsHost;

typedef struct {
    char *name;
    char *uuid;
    char *forward;        /* "nat", "route", ...; NULL: isolated */
    char *bridge;         /* NULL until libvirt picked one */
    char *domain;         /* <domain name=>; NULL: none */
    GPtrArray *ips;       /* VpNetIp *, IPv4 only, in order */
    GPtrArray *dhcp_hosts; /* VpNetDhcpHost *, of every IPv4 <ip> */
    GPtrArray *dns_hosts; /* VpNetDnsHost * */
    /* The <metadata> child in the lab record namespace, as text; NULL
     * when there is none. */
    char *record;
} VpNetworkDef;

/* Parses XML, a network as virNetworkGetXMLDesc gives it.  Addresses it
 * cannot read (IPv6, malformed) are skipped, not fatal: they are nothing
 * a lab made.  Fails with VP_ERROR_FAILED when XML is no <network>. */
VpNetworkDef *vp_network_def_parse(const char *xml, GError **error);
void vp_network_def_free(VpNetworkDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpNetworkDef, vp_network_def_free)

/* The <ip> of DEF whose subnet holds ADDR, or NULL. */
const VpNetIp *vp_network_def_ip_for(const VpNetworkDef *def, guint32 addr);

/* What a lab network's definition holds. */
typedef struct {
    const char *name;
    const char *forward;  /* "nat", "route"; NULL: isolated */
    VpIpv4Net subnet;     /* the host's /24 */
    const char *domain;   /* NULL: none */
    const char *record;   /* one element of the lab record namespace, or NULL */
} VpNetworkSpec;

/* The <network> of SPEC: the bridge address .1 of the subnet, DHCP over
 * VP_LAB_NET_RANGE_FIRST..LAST (reservations go above it), the domain
 * answered locally (localOnly) so names of the lab never leak upstream.
 * Caller frees. */
char *vp_network_xml_build(const VpNetworkSpec *spec);

/* The <host mac= name= ip=/> of a DHCP reservation and the <host ip=>
 * <hostname/>...</host> of a DNS entry (one hostname per NAMES item), as
 * virNetworkUpdate takes them.  Caller frees. */
char *vp_network_dhcp_host_xml(const char *mac, const char *name, guint32 ip);
char *vp_network_dns_host_xml(guint32 ip, const char *const *names);
