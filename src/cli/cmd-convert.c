/* virt-provision convert SRC DST [DISK]: the offline form of convert, the
 * classic `qemu-img convert -O qcow2 -o preallocation=metadata`, through the
 * same emitter as every other image: the data area is filled from the
 * source, copying only the data that exists. */
#include "cmd-convert.h"

#include <sys/stat.h>

#include <glib/gi18n.h>

#include "command.h"
#include "disk-args.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "image-report.h"
#include "interrupt.h"
#include "json-util.h"
#include "option-hints.h"
#include "progress-bar.h"
#include "qcow2-emit.h"
#include "sink-file.h"
#include "source.h"

/* One table for both forms, so that --help of convert lists the options of the
 * domain form too; the file form refuses those that do not apply. */
GOptionEntry *
vp_convert_option_entries(VpConvertArgs *a)
{
    const GOptionEntry entries[] = {
        { "source-format", 0, 0, G_OPTION_ARG_STRING, &a->source_format,
          N_("Format of SRC: raw or qcow2 (default: qcow2 if its header says "
             "so, else raw)"), N_("FORMAT") },
        { "force", 'f', 0, G_OPTION_ARG_NONE, &a->force,
          N_("Replace DST if it exists"), NULL },
        { "domain", 'd', 0, G_OPTION_ARG_STRING, &a->domain,
          N_("Convert a disk of this shut-off domain in place of SRC DST"),
          N_("DOMAIN") },
        { "disk", 0, 0, G_OPTION_ARG_STRING, &a->target,
          N_("Target of the disk to convert, such as vda (default: the only "
             "disk)"), N_("TARGET") },
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &a->pool,
          N_("Pool for the new volume (default: the source volume's pool)"),
          N_("POOL") },
        { "keep-source", 0, 0, G_OPTION_ARG_NONE, &a->keep_source,
          N_("Keep the source volume (the default)"), NULL },
        { "delete-source", 0, 0, G_OPTION_ARG_NONE, &a->delete_source,
          N_("Delete the source volume once the domain uses the new one"), NULL },
        { "print-diff", 0, 0, G_OPTION_ARG_NONE, &a->print_diff,
          N_("Show the change to the domain definition; change nothing"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    return g_memdup2(entries, sizeof(entries));
}

void
vp_convert_args_clear(VpConvertArgs *a)
{
    vp_disk_args_clear(&a->disk);
    g_free(a->source_format);
    g_free(a->domain);
    g_free(a->target);
    g_free(a->pool);
    *a = (VpConvertArgs){ 0 };
}

/* Options of the domain form are refused, not ignored: a user who gave
 * --delete-source to a file conversion expects the source to go. */
static gboolean
vp_convert_file_checks(const VpConvertArgs *a, int argc, GError **error)
{
    const char *what = a->target != NULL ? "--disk"
                       : a->pool != NULL ? "--pool"
                       : a->delete_source ? "--delete-source"
                       : a->keep_source ? "--keep-source"
                       : a->print_diff ? "--print-diff"
                       /* The image is a full copy of SRC: a backing file would
                        * make no sense. */
                       : a->disk.backing != NULL ? "--backing"
                                                 : NULL;
    if (what != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s does not apply to converting files; it goes with "
                      "--domain"), what);
        return FALSE;
    }
    if (argc != 3) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("convert needs SRC and DST files, or --domain; "
                              "see 'virt-provision convert --help'"));
        return FALSE;
    }
    return TRUE;
}

int
vp_cmd_convert_file(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpConvertArgs) a = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&a.disk);
    g_autofree GOptionEntry *entries = vp_convert_option_entries(&a);
    VpImageOptions opts;
    VpQcow2Layout layout;

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, disk_entries, NULL) ||
        !vp_convert_file_checks(&a, argc, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    const char *src_path = argv[1];
    const char *dst_path = argv[2];
    /* The format is stated or read from the header by the tool's own reader,
     * never guessed from the name. */
    g_autoptr(VpSource) src = vp_source_open_file(src_path, a.source_format,
                                                  NULL, &error);
    if (src == NULL) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    vp_image_options_init(&opts);
    /* The new image has exactly the guest size of SRC. */
    opts.size = src->size;
    if (!vp_disk_args_resolve(&a.disk, &opts, &error) ||
        !vp_qcow2_layout_compute(&opts, &layout, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Only now, when the first byte is about to be written; earlier a Ctrl-C
     * should just kill the process, as nothing needs undoing. */
    vp_interrupt_install();
    /* The sink writes a temporary file and renames it at commit: an existing
     * DST (with --force) stays intact until the copy is complete. */
    g_autoptr(VpSink) sink = vp_file_sink_new(dst_path, a.force, &error);
    sink = vp_progress_sink_new(sink, layout.file_length,
                                vp_cli_progress(_("copying")));
    if (sink == NULL || !vp_image_emit_from(&layout, sink, src, vp_interrupt_cancel(),
                                            &error)) {
        vp_cli_hint_force(error, dst_path);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    struct stat st;
    /* Blocks actually used, as qemu-img info's actual-size; 0 when stat fails,
     * since the image itself was written. */
    guint64 actual = stat(dst_path, &st) == 0 ? (guint64)st.st_blocks * 512 : 0;
    if (vp_global.json) {
        JsonNode *root = vp_image_report_json(dst_path, &layout, actual);
        JsonObject *obj = json_node_get_object(root);
        json_object_set_string_member(obj, "source", src_path);
        json_object_set_string_member(obj, "source-format", src->format);
        vp_cli_print_json(root);
    } else if (!vp_global.quiet) {
        g_print(_("Converted '%1$s' (%2$s):\n"), src_path, src->format);
        vp_image_report_human(dst_path, &layout, actual);
    }
    return VP_EXIT_OK;
}
