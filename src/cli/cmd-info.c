/* virt-provision info FILE: what `ls -l`, `du` and `qemu-img info` say of an
 * image, side by side, plus how much of the guest is preallocated. */
#include "cmd-info.h"

#include <inttypes.h>

#include <glib/gi18n.h>

#include "command.h"
#include "error.h"
#include "exit-codes.h"
#include "file-alloc.h"
#include "global-options.h"
#include "image-file.h"
#include "image-options.h"
#include "json-util.h"
#include "qcow2-format.h"
#include "qcow2-reader.h"
#include "size.h"

/* What both reports are made from, computed once so that the JSON and the
 * human form can never disagree. */
typedef struct {
    const char *path;
    const VpImageFile *file;
    const VpQcow2Meta *meta; /* NULL for raw */
    guint64 guest_clusters;
    guint64 mapped;
    const char *prealloc;
} VpInfo;

/* The preallocation state from the mapping and from what the file system
 * allocated inside the mapped data clusters (metadata excluded, so tiny
 * images judge right): a fully mapped image whose data clusters are mostly
 * allocated was made with falloc or full (or has been written all over);
 * one whose data clusters are mostly holes has metadata preallocation. */
static const char *
vp_info_prealloc_state(const VpInfo *info, guint64 data_allocated)
{
    /* Nothing mapped: a sparse image, whatever the file system holds. */
    if (info->mapped == 0) {
        return "off";
    }
    /* Some clusters mapped: a preallocated image that was never finished, or a
     * sparse one the guest has written to. */
    if (info->mapped < info->guest_clusters) {
        return "partial";
    }
    guint64 mapped_bytes = info->mapped * info->meta->cluster_size;
    /* Half is a threshold, not an exact test: a metadata-preallocated image
     * that the guest has written into a little must still read "metadata". */
    return data_allocated >= mapped_bytes / 2 ? "falloc/full" : "metadata";
}

static JsonNode *
vp_info_json(const VpInfo *info)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    const VpQcow2Meta *m = info->meta;

    /* qemu-img info's key names and nesting ("format-specific"/"data"), so
     * that tools reading one read the other; the keys this tool adds stand
     * beside them. */
    json_builder_begin_object(b);
    vp_json_add_string(b, "filename", info->path);
    vp_json_add_string(b, "format", m != NULL ? "qcow2" : "raw");
    vp_json_add_int(b, "virtual-size",
                    m != NULL ? m->virtual_size : info->file->length);
    vp_json_add_int(b, "actual-size", info->file->allocated);
    vp_json_add_int(b, "file-length", info->file->length);
    if (m == NULL) {
        vp_json_add_bool(b, "dirty-flag", FALSE);
        json_builder_end_object(b);
        return json_builder_get_root(b);
    }
    vp_json_add_int(b, "cluster-size", m->cluster_size);
    vp_json_add_bool(b, "dirty-flag",
                     (m->incompatible_features & VP_QCOW2_INCOMPAT_DIRTY) != 0);
    if (m->backing_file != NULL) {
        vp_json_add_string(b, "backing-filename", m->backing_file);
        if (m->backing_format != NULL) {
            vp_json_add_string(b, "backing-filename-format", m->backing_format);
        }
    }
    vp_json_add_string(b, "preallocation", info->prealloc);
    vp_json_add_int(b, "guest-clusters", info->guest_clusters);
    vp_json_add_int(b, "mapped-clusters", info->mapped);
    vp_json_add_int(b, "snapshots", m->nb_snapshots);

    json_builder_set_member_name(b, "format-specific");
    json_builder_begin_object(b);
    vp_json_add_string(b, "type", "qcow2");
    json_builder_set_member_name(b, "data");
    json_builder_begin_object(b);
    vp_json_add_string(b, "compat", vp_compat_to_string(m->version));
    vp_json_add_string(b, "compression-type",
                       m->compression_type == VP_QCOW2_COMPRESSION_ZSTD ? "zstd"
                                                                        : "zlib");
    /* Version 2 images have no feature bits: qemu-img info omits these keys
     * for compat 0.10, and so does this report. */
    if (m->version >= 3) {
        vp_json_add_bool(b, "lazy-refcounts",
                         (m->compatible_features & VP_QCOW2_COMPAT_LAZY_REFCOUNTS) != 0);
    }
    vp_json_add_int(b, "refcount-bits", m->refcount_bits);
    if (m->version >= 3) {
        vp_json_add_bool(b, "corrupt",
                         (m->incompatible_features & VP_QCOW2_INCOMPAT_CORRUPT) != 0);
        vp_json_add_bool(b, "extended-l2", m->extended_l2);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* A label padded to a fixed column by display width, not bytes, so that
 * translated (double-width) labels line up too. */
static void
vp_label(const char *label)
{
    glong width = 0;
    for (const char *p = label; *p != '\0'; p = g_utf8_next_char(p)) {
        width += g_unichar_iswide(g_utf8_get_char(p)) ? 2 : 1;
    }
    g_print("%s%*s ", label, (int)MAX(0, 22 - width), "");
}

static void
vp_info_print_size(const char *label, guint64 bytes)
{
    g_autofree char *text = vp_size_format(bytes);
    vp_label(label);
    g_print(_("%1$s (%2$" PRIu64 " bytes)\n"), text, bytes);
}

static const char *
vp_bool_text(gboolean value)
{
    /* Untranslated, as in qemu-img info: they are values, not words. */
    return value ? "true" : "false";
}

/* One "label: value" line of the human report. */
static void
vp_field(const char *label, const char *value)
{
    vp_label(label);
    g_print("%s\n", value);
}

static void
vp_info_human(const VpInfo *info)
{
    const VpQcow2Meta *m = info->meta;

    vp_field(_("image:"), info->path);
    vp_field(_("file format:"), m != NULL ? "qcow2" : "raw");
    vp_info_print_size(_("virtual size:"),
                       m != NULL ? m->virtual_size : info->file->length);
    vp_info_print_size(_("file length:"), info->file->length);
    vp_info_print_size(_("disk size:"), info->file->allocated);
    if (m == NULL) {
        return;
    }
    g_autofree char *cluster = g_strdup_printf("%" G_GUINT64_FORMAT, m->cluster_size);
    vp_field(_("cluster size:"), cluster);
    g_autofree char *prealloc = g_strdup_printf(
        _("%1$s (%2$" PRIu64 "/%3$" PRIu64 " guest clusters mapped)"),
        info->prealloc, info->mapped, info->guest_clusters);
    vp_field(_("preallocation:"), prealloc);
    if (m->backing_file != NULL) {
        vp_field(_("backing file:"), m->backing_file);
        vp_field(_("backing file format:"),
                 m->backing_format != NULL ? m->backing_format : _("(not recorded)"));
    }
    if (m->nb_snapshots > 0) {
        g_autofree char *snapshots = g_strdup_printf("%u", m->nb_snapshots);
        vp_field(_("snapshots:"), snapshots);
    }
    vp_field(_("compat:"), vp_compat_to_string(m->version));
    g_autofree char *bits = g_strdup_printf("%u", m->refcount_bits);
    vp_field(_("refcount bits:"), bits);
    if (m->version >= 3) {
        vp_field(_("lazy refcounts:"),
                 vp_bool_text(m->compatible_features & VP_QCOW2_COMPAT_LAZY_REFCOUNTS));
        vp_field(_("extended l2:"), vp_bool_text(m->extended_l2));
        vp_field(_("dirty:"),
                 vp_bool_text(m->incompatible_features & VP_QCOW2_INCOMPAT_DIRTY));
        vp_field(_("corrupt:"),
                 vp_bool_text(m->incompatible_features & VP_QCOW2_INCOMPAT_CORRUPT));
    }
}

int
vp_info_report(const char *name, VpImageFile *file)
{
    g_autoptr(GError) error = NULL;
    VpInfo info = { .path = name, .file = file };

    if (file->img != NULL) {
        info.meta = vp_qcow2_image_meta(file->img);
        guint64 cs = info.meta->cluster_size;
        /* Rounded up: a last partial cluster still takes a whole L2 entry. */
        info.guest_clusters = info.meta->virtual_size / cs +
                              (info.meta->virtual_size % cs != 0);
        g_autoptr(GArray) runs = g_array_new(FALSE, FALSE, sizeof(VpRange));
        gboolean complete = FALSE;
        guint64 data_allocated = 0;
        /* A million runs is a badly fragmented image; past that, the whole
         * file's allocation is a good enough measure. */
        if (!vp_qcow2_image_count_mapped(file->img, &info.mapped, runs, 1u << 20,
                                         &complete, &error)) {
            return vp_cli_fail(g_steal_pointer(&error));
        }
        /* An incomplete map (past the run limit), or a file system that
         * cannot say, leaves the whole file's allocation to stand in for the
         * data's. */
        if (!complete || !vp_file_allocated_in(file->fd, runs, &data_allocated,
                                               NULL)) {
            data_allocated = file->allocated;
        }
        info.prealloc = vp_info_prealloc_state(&info, data_allocated);
    }
    if (vp_global.json) {
        vp_cli_print_json(vp_info_json(&info));
    } else if (!vp_global.quiet) {
        vp_info_human(&info);
    }
    return VP_EXIT_OK;
}

int
vp_cmd_info(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpImageFile) file = { .fd = -1 };
    const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, NULL) ||
        !vp_cli_one_file(cmd, argc, argv, &error) ||
        !vp_image_file_open(argv[1], &file, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* FILE is read by this process: info works on a file without libvirt, in
     * the front program. */
    return vp_info_report(argv[1], &file);
}
