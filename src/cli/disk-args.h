/* The DISK options shared by every command that creates an image: image,
 * convert, provision, attach, and the guests of a lab. */
#pragma once

#include <glib.h>

#include "image-options.h"
#include "provision-options.h"

/* Option entries writing into ARGS; valid while ARGS lives.  Caller frees
 * the returned array (not the strings in it). */
GOptionEntry *vp_disk_option_entries(VpDiskArgs *args);

/* Turns the parsed text into OPTS (SIZE is set by the caller).  Fails with
 * VP_ERROR_INVALID naming the option.  OPTS borrows the backing strings of
 * ARGS. */
gboolean vp_disk_args_resolve(const VpDiskArgs *args, VpImageOptions *opts,
                              GError **error);
