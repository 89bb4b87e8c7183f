/* The DISK options: their GOption entries and their translation into
 * VpImageOptions, for every command that creates an image. */
#include "disk-args.h"

#include <glib/gi18n.h>

#include "error.h"
#include "provision-args.h"
#include "size.h"

GOptionEntry *
vp_disk_option_entries(VpDiskArgs *args)
{
    /* The schema's DISK rows (provision-args.h). */
    return vp_option_entries(TRUE, NULL, args);
}

/* Refused rather than ignored: a user who asked for, say, a cluster size on a
 * raw image expects it to mean something. */
static gboolean
vp_disk_refuse_for_raw(const VpDiskArgs *args, GError **error)
{
    const char *what = NULL;

    if (args->cluster_size != NULL) {
        what = "--cluster-size";
    } else if (args->compat != NULL) {
        what = "--compat";
    } else if (args->refcount_bits != NULL) {
        what = "--refcount-bits";
    } else if (args->lazy_refcounts) {
        what = "--lazy-refcounts";
    } else if (args->extended_l2) {
        what = "--extended-l2";
    }
    if (what != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s applies to qcow2 images only; drop it or use "
                      "--format qcow2"), what);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_disk_args_resolve(const VpDiskArgs *args, VpImageOptions *opts,
                     GError **error)
{
    guint64 value;

    /* The schema's choices and ranges first; then the conversions, which
     * can no longer fail but for what the schema leaves to them. */
    if (!vp_option_values_check(TRUE, NULL, (VpDiskArgs *)args, error)) {
        return FALSE;
    }
    if (args->format != NULL) {
        vp_image_format_from_string(args->format, &opts->format);
    }
    if (opts->format == VP_FORMAT_RAW) {
        /* A raw file has no metadata: sparse unless asked otherwise. */
        opts->preallocation = VP_PREALLOC_OFF;
        if (!vp_disk_refuse_for_raw(args, error)) {
            return FALSE;
        }
    }
    /* As qemu-img: an overlay starts empty, so that reads fall through to
     * its backing file; preallocation there needs --extended-l2 and asking. */
    /* Only a default: an explicit --preallocation with --backing is still
     * taken and left for the layout to accept or refuse. */
    if (args->backing != NULL && args->preallocation == NULL) {
        opts->preallocation = VP_PREALLOC_OFF;
    }
    if (args->preallocation != NULL) {
        vp_preallocation_from_string(args->preallocation, &opts->preallocation);
    }
    if (args->cluster_size != NULL) {
        if (!vp_size_parse(args->cluster_size, "--cluster-size", &value,
                           error)) {
            return FALSE;
        }
        /* The layout checks the power of two and the range; only what cannot
         * fit the field is refused here. */
        if (value > G_MAXUINT32) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("invalid --cluster-size '%1$s': use a power of two "
                          "from 512 bytes to 2M, such as 64K"),
                        args->cluster_size);
            return FALSE;
        }
        opts->cluster_size = (guint32)value;
    }
    if (args->compat != NULL) {
        vp_compat_from_string(args->compat, &opts->version);
    }
    if (args->refcount_bits != NULL) {
        g_ascii_string_to_unsigned(args->refcount_bits, 10, 1, 64, &value, NULL);
        opts->refcount_bits = (guint32)value;
    }
    /* Whether the combination is valid is for vp_qcow2_layout_compute() to
     * decide: one check, whichever command builds the options. */
    opts->lazy_refcounts = args->lazy_refcounts;
    opts->extended_l2 = args->extended_l2;
    opts->backing_file = args->backing;
    opts->backing_format = args->backing_format;
    return TRUE;
}
