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

/* Index of TEXT in NAMES (N entries), or -1: the one look-up behind every
 * *_from_string of this file. */
static gssize
vp_name_index(const char *const *names, gsize n, const char *text)
{
    for (gsize i = 0; i < n; i++) {
        if (names[i] != NULL && g_strcmp0(text, names[i]) == 0) {
            return (gssize)i;
        }
    }
    return -1;
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
    gssize i = vp_name_index(vp_prealloc_names,
                             G_N_ELEMENTS(vp_prealloc_names), text);
    if (i >= 0) {
        *prealloc = (VpPreallocation)i;
    }
    return i >= 0;
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
    gssize i = vp_name_index(vp_format_names, G_N_ELEMENTS(vp_format_names),
                             text);
    if (i >= 0) {
        *format = (VpImageFormat)i;
    }
    return i >= 0;
}

/* qemu-img's words for the two versions, and the v2/v3 shorthand some
 * users type. */
static const char *const vp_compat_names[] = { [2] = "0.10", [3] = "1.1" };
static const char *const vp_version_names[] = { [2] = "v2", [3] = "v3" };

const char *
vp_compat_to_string(guint32 version)
{
    return version >= 3 ? "1.1" : "0.10";
}

gboolean
vp_compat_from_string(const char *text, guint32 *version)
{
    gssize i = vp_name_index(vp_compat_names, G_N_ELEMENTS(vp_compat_names),
                             text);
    if (i < 0) {
        i = vp_name_index(vp_version_names, G_N_ELEMENTS(vp_version_names),
                          text);
    }
    if (i >= 0) {
        *version = (guint32)i;
    }
    return i >= 0;
}
