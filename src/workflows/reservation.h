/* A guest's fixed addresses (--network network=NAME,ip=ADDRESS): the DHCP
 * reservation (MAC, guest name, address) and the DNS entry (NAME, and
 * NAME.DOMAIN where the network has a domain) in the libvirt network,
 * live and persistent, in the guest's transaction.  Checked first, before
 * anything is created. */
#pragma once

#include <glib.h>

#include "domain-xml.h"
#include "transaction.h"
#include "virt.h"
#include "workflow.h"

/* Checks every NIC of D with an ip against its network as the host has it
 * now: the network exists and runs DHCP on a subnet holding the address,
 * which is not the network's own, its broadcast, reserved for another
 * MAC or name, leased to another MAC, or a DNS name of another address;
 * the guest's NAME is not reserved, nor a DNS name there already (but on
 * a NIC with lab_dns, whose names the lab keeps).  A NIC
 * without a MAC gets one (QEMU's 52:54:00 prefix, random, reserved by
 * nobody), since the reservation needs it before the domain exists.
 * VP_ERROR_INVALID (bad input) or VP_ERROR_EXISTS (taken) naming the
 * address and the network. */
gboolean vp_reservations_plan(VpVirt *virt, const char *name, VpDomainSpec *d,
                              GError **error);

/* Adds the reservations and DNS entries (none with lab_dns) planned for
 * D's NICs, each with its undo in T.  Says its steps through RUN. */
gboolean vp_reservations_make(const VpRunEnv *run, VpVirt *virt,
                              const char *name, const VpDomainSpec *d,
                              VpTransaction *t, GError **error);
