/* virt-provision info --pool POOL --volume VOL: info of a pool volume, on
 * any host.  The workflow makes the volume readable here (volume-fetch.h);
 * the report is the one info gives of a file. */
#include <glib/gi18n.h>

#include "cmd-info.h"
#include "command.h"
#include "error.h"
#include "exit-codes.h"
#include "image-file.h"
#include "run-env.h"
#include "volume-fetch.h"

int
vp_cmd_info_volume(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *pool = NULL;
    g_autofree char *volume = NULL;
    g_autofree char *path = NULL;
    g_auto(VpImageFile) file = { .fd = -1 };
    VpRunEnv run = { 0 };
    int fd = -1;
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
    /* Before the connection: a download polls the cancel, so Ctrl-C ends a
     * long one through the normal error path.  No bar: the report follows
     * at once. */
    if (!vp_cli_run_env(&run, NULL, &error) ||
        !vp_volume_fetch(&run, pool, volume, &fd, &path, &error) ||
        /* FILE takes the descriptor over, and its cleanup closes it. */
        !vp_image_file_open_fd(fd, path, &file, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    return vp_info_report(path, &file);
}
