#include "image-options.h"

/* Indexed by the enum, so a name cannot drift from its value; the spellings
 * are qemu-img's, which users already know. */
static const char *const vp_prealloc_names[] = {
    [VP_PREALLOC_OFF] = "off",
    [VP_PREALLOC_METADATA] = "metadata",
    [VP_PREALLOC_FALLOC] = "falloc",
    [VP_PREALLOC_FULL] = "full",
};

static const char *const vp_format_names[] = {
    [VP_FORMAT_QCOW2] = "qcow2",
    [VP_FORMAT_RAW] = "raw",
};

/* qemu-img's defaults (64 KiB clusters, compat 1.1, 16-bit refcounts), except
 * metadata preallocation: a provisioned disk should not fragment as the guest
 * fills it. */
void
vp_image_options_init(VpImageOptions *opts)
{
    *opts = (VpImageOptions){
        .format = VP_FORMAT_QCOW2,
        .preallocation = VP_PREALLOC_METADATA,
        .cluster_size = 64 * 1024,
        .version = 3,
        .refcount_bits = 16,
    };
}

const char *
vp_preallocation_to_string(VpPreallocation prealloc)
{
    /* An out-of-range value is a programming error: warn, never index past the
     * table. */
    g_return_val_if_fail(prealloc < G_N_ELEMENTS(vp_prealloc_names), NULL);
    return vp_prealloc_names[prealloc];
}

/* Exact, case-sensitive matches, as qemu-img takes them. */
gboolean
vp_preallocation_from_string(const char *text, VpPreallocation *prealloc)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_prealloc_names); i++) {
        if (g_strcmp0(text, vp_prealloc_names[i]) == 0) {
            *prealloc = (VpPreallocation)i;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
vp_image_format_to_string(VpImageFormat format)
{
    g_return_val_if_fail(format < G_N_ELEMENTS(vp_format_names), NULL);
    return vp_format_names[format];
}

gboolean
vp_image_format_from_string(const char *text, VpImageFormat *format)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_format_names); i++) {
        if (g_strcmp0(text, vp_format_names[i]) == 0) {
            *format = (VpImageFormat)i;
            return TRUE;
        }
    }
    return FALSE;
}
