/* provision's DOMAIN options: their GOption entries and their validation
 * into a VpDomainSpec.  Part of vpcli and libvirt-free, so that the whole
 * table of accepted and rejected options is tested without a daemon
 * (tests/test-provision-args.c). */
#pragma once

#include <glib.h>

#include "domain-xml.h"
#include "provision-options.h"

/* GOption entries for the options of the schema (provision-options.h):
 * its DISK options with DISK, else provision's DOMAIN and IMAGE options,
 * writing into P or D, which must outlive the entries.  Names, short
 * names, help, placeholders and value kinds all come from the schema.  The
 * options whose value is optional (--wait, --cloud-init) are callbacks
 * that write into the user data of their option group, which must be P.
 * Caller frees the array, not the strings in it. */
GOptionEntry *vp_option_entries(gboolean disk, VpProvisionArgs *p,
                                VpDiskArgs *d);

/* Option entries writing into ARGS (the DISK options come from
 * vp_disk_option_entries); valid while ARGS lives.  Caller frees the
 * array, not the strings in it.  Two of them (--wait, --cloud-init) are
 * callbacks that write into the user data of their option group, which
 * must be ARGS: parse them with vp_cli_parse_data (command.h), or in a
 * group made with ARGS as its data. */
GOptionEntry *vp_provision_option_entries(VpProvisionArgs *args);

/* Refuses the first value of P (or, with DISK, of D) that the schema says
 * its option does not take (choices, ranges), with VP_ERROR_INVALID
 * "invalid --OPTION 'VALUE': use HINT".  Sizes, --memory, --wait,
 * --network and --cloud-init are left to the resolvers, whose messages
 * say more. */
gboolean vp_option_values_check(gboolean disk, VpProvisionArgs *p,
                                VpDiskArgs *d, GError **error);

/* Turns the DOMAIN options of ARGS into SPEC (everything but the name and
 * the disk's path and format, which the workflow fills in).  Fails with
 * VP_ERROR_INVALID naming the option; SPEC may then hold some fields,
 * which vp_domain_spec_clear() frees. */
gboolean vp_provision_args_resolve(const VpProvisionArgs *args,
                                   VpDomainSpec *spec, GError **error);

/* --wait's timeout in seconds from ARGS (VP_PROVISION_WAIT_DEFAULT for a
 * bare --wait).  Fails with VP_ERROR_INVALID naming the option. */
#define VP_PROVISION_WAIT_DEFAULT 600
gboolean vp_provision_args_wait(const VpProvisionArgs *args, guint *seconds,
                                GError **error);

/* Accepts BUS when it is NULL (not given) or a disk bus libvirt knows for
 * a new disk: virtio, scsi, sata or ide.  Fails with VP_ERROR_INVALID. */
gboolean vp_disk_bus_check(const char *bus, GError **error);
