/* What an image should look like: the DISK options of the command line,
 * already parsed into numbers.  Shared by the offline `image` command and by
 * every command that creates a volume. */
#pragma once

#include <glib.h>

typedef enum {
    VP_FORMAT_QCOW2,
    VP_FORMAT_RAW,
} VpImageFormat;

typedef enum {
    VP_PREALLOC_OFF,      /* metadata only for the empty image */
    VP_PREALLOC_METADATA, /* every L2 entry in place, data area sparse */
    VP_PREALLOC_FALLOC,   /* as metadata, data area reserved on disk */
    VP_PREALLOC_FULL,     /* as metadata, data area written with zeros */
} VpPreallocation;

typedef struct {
    VpImageFormat format;
    guint64 size;         /* bytes as requested; rounded up to 512 later */
    VpPreallocation preallocation;
    guint32 cluster_size; /* bytes */
    guint32 version;      /* qcow2 version: 2 (compat 0.10) or 3 (1.1) */
    guint32 refcount_bits;
    gboolean lazy_refcounts;
    gboolean extended_l2;
    /* Preallocated clusters must read as zeros whatever the host storage
     * holds (block devices): sets the v3 zero flag in their L2 entries. */
    gboolean zero_flag;
    const char *backing_file;   /* borrowed, NULL for none */
    const char *backing_format; /* borrowed, required with backing_file */
} VpImageOptions;

/* Fills OPTS with the defaults of the command line: qcow2, metadata
 * preallocation, 64 KiB clusters, compat 1.1, 16-bit refcounts. */
void vp_image_options_init(VpImageOptions *opts);

/* Names as on the command line ("off", "metadata", "falloc", "full"). */
const char *vp_preallocation_to_string(VpPreallocation prealloc);
gboolean vp_preallocation_from_string(const char *text,
                                      VpPreallocation *prealloc);

/* "qcow2" or "raw". */
const char *vp_image_format_to_string(VpImageFormat format);
gboolean vp_image_format_from_string(const char *text, VpImageFormat *format);

/* qcow2 version VERSION as qemu-img's compat level: "0.10" (2) or "1.1"
 * (3 and later). */
const char *vp_compat_to_string(guint32 version);
/* "0.10" or "v2" -> 2, "1.1" or "v3" -> 3; FALSE for anything else. */
gboolean vp_compat_from_string(const char *text, guint32 *version);
