/* virt-provision image FILE --size SIZE [DISK] [--force]: the offline
 * qemu-img create of this project, through the same emitter that feeds
 * libvirt upload streams. */
#include <sys/stat.h>

#include <glib/gi18n.h>

#include "command.h"
#include "disk-args.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "image-file.h"
#include "image-report.h"
#include "interrupt.h"
#include "json-util.h"
#include "option-hints.h"
#include "progress-bar.h"
#include "qcow2-emit.h"
#include "qcow2-layout.h"
#include "qcow2-reader.h"
#include "sink-file.h"
#include "size.h"

/* Without --size an overlay takes its backing file's virtual size, read
 * from a header this tool parses itself (qcow2) or the length (raw); the
 * format is the one stated with --backing-format, never guessed. */
static gboolean
vp_backing_size(const char *image, const VpDiskArgs *disk, guint64 *size,
                GError **error)
{
    g_auto(VpImageFile) file = { .fd = -1 };
    g_autofree char *dir = g_path_get_dirname(image);
    /* A relative backing name is relative to the overlay, as in qemu. */
    g_autofree char *path = g_path_is_absolute(disk->backing)
                                ? g_strdup(disk->backing)
                                : g_build_filename(dir, disk->backing, NULL);
    const char *format = disk->backing_format;

    /* Only the formats the tool parses itself; any other could state a size
     * only through a header this tool does not read. */
    if (g_strcmp0(format, "qcow2") != 0 && g_strcmp0(format, "raw") != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("give --size: this tool reads the size of qcow2 and raw "
                      "backing files only, not of '%1$s'"),
                    format != NULL ? format : "?");
        return FALSE;
    }
    if (!vp_image_file_open(path, &file, error)) {
        return FALSE;
    }
    /* The stated format must match the header: a qcow2 read as raw would give
     * its file length, not its virtual size. */
    if (g_str_equal(format, "qcow2") && file.img == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("backing file '%1$s' is not qcow2, although "
                      "--backing-format says so"), path);
        return FALSE;
    }
    *size = file.img != NULL && g_str_equal(format, "qcow2")
                ? vp_qcow2_image_meta(file.img)->virtual_size
                : file.length;
    return TRUE;
}

int
vp_cmd_image(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpDiskArgs) disk = { 0 };
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&disk);
    g_autofree char *size_text = NULL;
    gboolean force = FALSE;
    const GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_STRING, &size_text,
          N_("Virtual size of the disk, such as 20G"), N_("SIZE") },
        { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
          N_("Replace FILE if it exists"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    VpImageOptions opts;
    VpQcow2Layout layout;

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, disk_entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Exactly one FILE, so that a stray word is refused rather than ignored. */
    if (argc != 2) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            argc < 2 ? _("image needs the FILE to create; see "
                                         "'virt-provision image --help'")
                                     : _("image takes exactly one FILE; see "
                                         "'virt-provision image --help'"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    const char *path = argv[1];
    vp_image_options_init(&opts);
    if (size_text == NULL && disk.backing == NULL) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("image needs --size, such as --size 20G"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (size_text != NULL
            ? !vp_size_parse(size_text, "--size", &opts.size, &error)
            : !vp_backing_size(path, &disk, &opts.size, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Every option is checked and the layout computed before the file is
     * created: a refused option leaves nothing on disk. */
    if (!vp_disk_args_resolve(&disk, &opts, &error) ||
        !vp_qcow2_layout_compute(&opts, &layout, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }

    /* Installed only once there is something to interrupt cleanly: the sink
     * removes its temporary file when the emit fails. */
    vp_interrupt_install();
    g_autoptr(VpSink) sink = vp_file_sink_new(path, force, &error);
    sink = vp_progress_sink_new(sink, layout.file_length,
                                vp_cli_progress(_("writing")));
    if (sink == NULL || !vp_image_emit(&layout, sink, vp_interrupt_cancel(), &error)) {
        vp_cli_hint_force(error, path);
        return vp_cli_fail(g_steal_pointer(&error));
    }

    struct stat st;
    guint64 actual = stat(path, &st) == 0 ? (guint64)st.st_blocks * 512 : 0;
    if (vp_global.json) {
        vp_cli_print_json(vp_image_report_json(path, &layout, actual));
    } else if (!vp_global.quiet) {
        vp_image_report_human(path, &layout, actual);
    }
    return VP_EXIT_OK;
}
