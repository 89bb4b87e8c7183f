/* What image and convert print about a qcow2 or raw file they wrote: the
 * same report in JSON (qemu-img info's key names where they exist) and for
 * people. */
#include "image-report.h"

#include <glib/gi18n.h>

#include "json-util.h"
#include "size.h"

JsonNode *
vp_image_report_json(const char *path, const VpQcow2Layout *layout,
                     guint64 actual)
{
    const VpImageOptions *o = &layout->opts;
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    vp_json_add_string(b, "filename", path);
    vp_json_add_string(b, "format", vp_image_format_to_string(o->format));
    vp_json_add_int(b, "virtual-size", layout->virtual_size);
    vp_json_add_int(b, "file-length", layout->file_length);
    /* ACTUAL is measured on disk by the caller after writing; the layout only
     * knows what the file should be. */
    vp_json_add_int(b, "actual-size", actual);
    vp_json_add_string(b, "preallocation", vp_preallocation_to_string(o->preallocation));
    if (o->format == VP_FORMAT_QCOW2) {
        vp_json_add_int(b, "cluster-size", layout->cluster_size);
        vp_json_add_string(b, "compat", vp_compat_to_string(o->version));
        vp_json_add_int(b, "refcount-bits", o->refcount_bits);
        vp_json_add_bool(b, "lazy-refcounts", o->lazy_refcounts);
        vp_json_add_bool(b, "extended-l2", o->extended_l2);
        vp_json_add_int(b, "data-offset", layout->data_offset);
    }
    /* A backing file is always written with its format, so both keys come
     * together. */
    if (o->backing_file != NULL) {
        vp_json_add_string(b, "backing-filename", o->backing_file);
        vp_json_add_string(b, "backing-filename-format", o->backing_format);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

void
vp_image_report_human(const char *path, const VpQcow2Layout *layout,
                      guint64 actual)
{
    const VpImageOptions *o = &layout->opts;
    g_autofree char *vsize = vp_size_format(layout->virtual_size);
    g_autofree char *flen = vp_size_format(layout->file_length);
    g_autofree char *disk = vp_size_format(actual);

    /* raw has no clusters, compat or file-length distinct from its size. */
    if (o->format == VP_FORMAT_RAW) {
        g_print(_("Created '%1$s': raw, virtual size %2$s, preallocation %3$s, "
                  "%4$s on disk\n"),
                path, vsize, vp_preallocation_to_string(o->preallocation), disk);
        return;
    }
    g_autofree char *cs = vp_size_format(layout->cluster_size);
    g_print(_("Created '%1$s': qcow2 (compat %2$s), virtual size %3$s, "
              "preallocation %4$s, %5$s clusters, file length %6$s, %7$s on "
              "disk\n"),
            path, vp_compat_to_string(o->version), vsize,
            vp_preallocation_to_string(o->preallocation), cs, flen, disk);
}
