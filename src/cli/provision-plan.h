/* From provision's parsed options to a VpProvisionPlan: shared by the
 * provision command and by the lab commands, whose guests are provision
 * options written as manifest keys.  Part of the libvirt program only. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "disk-args.h"
#include "provision-args.h"
#include "provision.h"

/* Checks the options in A and DISK together and fills PLAN from them
 * (PLAN borrows A's strings, which must outlive it; PLAN->domain holds
 * copies, freed with vp_domain_spec_clear).  SEED is the parsed
 * --cloud-init (borrowed) or NULL.  Fails with VP_ERROR_INVALID naming the
 * option. */
gboolean vp_provision_plan_from_args(const VpProvisionArgs *a,
                                     const VpDiskArgs *disk,
                                     const VpSeedOptions *seed,
                                     VpProvisionPlan *plan, GError **error);

/* Member "addresses" of the object B is building: ADDRESSES (VpAddress *,
 * may be NULL: an empty list) as objects of interface, address, prefix and
 * family, as provision --wait and the lab commands print them. */
void vp_json_add_addresses(JsonBuilder *b, const GPtrArray *addresses);
