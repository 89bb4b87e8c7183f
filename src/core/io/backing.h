/* Backing chains as a domain definition states them (libvirt's
 * <backingStore>): what a generated guest's XML says of its overlay, and
 * what convert checks the image headers against.  One type for both, so
 * that what is written and what is checked cannot drift apart. */
#pragma once

#include <glib.h>

/* One level of a backing chain. */
typedef struct {
    char *path;       /* the backing file or block device, absolute */
    char *format;     /* "raw", "qcow2", ...; NULL when not stated */
    gboolean block;   /* a block device (logical pool), else a file */
} VpBackingLevel;

/* A new level; PATH and FORMAT are copied (FORMAT may be NULL). */
VpBackingLevel *vp_backing_level_new(const char *path, const char *format,
                                     gboolean block);
void vp_backing_level_free(VpBackingLevel *level);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpBackingLevel, vp_backing_level_free)
