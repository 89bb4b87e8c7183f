/* virt-provision info --pool POOL --volume VOL: info of a pool volume, on
 * any host.  A volume this machine can read is opened in place; a remote
 * one is first copied through a sparse download stream into an invisible
 * temporary file (only its metadata travels for a preallocated image). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "cmd-info.h"
#include "command.h"
#include "error.h"
#include "exit-codes.h"
#include "image-file.h"
#include "interrupt.h"
#include "run-env.h"
#include "virt.h"

int
vp_cmd_info_volume(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *pool = NULL;
    g_autofree char *volume = NULL;
    g_auto(VpImageFile) file = { .fd = -1 };
    g_auto(VpVolumeRef) ref = { 0 };
    const GOptionEntry entries[] = {
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &pool,
          N_("Pool of the volume (instead of FILE)"), N_("POOL") },
        { "volume", 0, 0, G_OPTION_ARG_STRING, &volume,
          N_("Volume to describe (instead of FILE)"), N_("VOLUME") },
        G_OPTION_ENTRY_NULL,
    };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* A FILE as well would leave unclear what the report describes. */
    if (argc > 1 || pool == NULL || volume == NULL) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("info takes a FILE, or --pool and --volume "
                              "together"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Installed before the connection: the download polls it, so Ctrl-C ends a
     * long one through the normal error path. */
    const char *uri = NULL;
    if (!vp_cli_connect_uri(&uri, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    vp_interrupt_install();
    g_autoptr(VpVirt) virt = vp_virt_connect(uri, &error);
    if (virt == NULL || !vp_virt_volume_by_name(virt, pool, volume, &ref, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (vp_virt_is_local(virt) && access(ref.path, R_OK) == 0) {
        if (!vp_image_file_open(ref.path, &file, &error)) {
            return vp_cli_fail(g_steal_pointer(&error));
        }
        return vp_info_report(ref.path, &file);
    }
    /* O_TMPFILE: the file has no name, so nothing is left behind however the
     * run ends, even when it is killed. */
    int fd = open(g_get_tmp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(&error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot create a temporary file in '%1$s': %2$s"),
                    g_get_tmp_dir(), g_strerror(errno));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (!vp_virt_volume_download(virt, pool, volume, fd,
                                 vp_interrupt_cancel(), &error) ||
        !vp_image_file_open_fd(fd, ref.path, &file, &error)) {
        /* open_fd hands the descriptor to FILE, whose cleanup closes it. */
        if (file.fd < 0) {
            close(fd);
        }
        return vp_cli_fail(g_steal_pointer(&error));
    }
    return vp_info_report(ref.path, &file);
}
