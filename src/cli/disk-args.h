/* The DISK options shared by every command that creates an image: image,
 * convert, provision, attach, and the guests of a lab. */
#pragma once

#include <glib.h>

#include "image-options.h"

/* The text of the options as GOption leaves it: NULL when not given. */
typedef struct {
    char *format;
    char *preallocation;
    char *cluster_size;
    char *compat;
    char *refcount_bits;
    gboolean lazy_refcounts;
    gboolean extended_l2;
    char *backing;
    char *backing_format;
} VpDiskArgs;

/* Option entries writing into ARGS; valid while ARGS lives.  Caller frees
 * the returned array (not the strings in it). */
GOptionEntry *vp_disk_option_entries(VpDiskArgs *args);

/* Turns the parsed text into OPTS (SIZE is set by the caller).  Fails with
 * VP_ERROR_INVALID naming the option.  OPTS borrows the backing strings of
 * ARGS. */
gboolean vp_disk_args_resolve(const VpDiskArgs *args, VpImageOptions *opts,
                              GError **error);
void vp_disk_args_clear(VpDiskArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpDiskArgs, vp_disk_args_clear)
