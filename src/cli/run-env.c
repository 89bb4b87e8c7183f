/* The environment a libvirt command runs its workflow in: the URI it
 * connects to, the step lines of --verbose, the progress bar and the cancel
 * of Ctrl-C. */
#include "run-env.h"

#include "global-options.h"
#include "interrupt.h"
#include "option-hints.h"
#include "progress-bar.h"
#include "uri.h"

gboolean
vp_cli_connect_uri(const char **uri, GError **error)
{
    /* libvirt would read the variable itself; reading it here means that
     * the URI checked is the one used. */
    const char *env = g_getenv("LIBVIRT_DEFAULT_URI");
    *uri = vp_global.connect;
    if (*uri == NULL && env != NULL && *env != '\0') {
        if (!vp_uri_check(env, error)) {
            vp_cli_label_error(*error, "LIBVIRT_DEFAULT_URI");
            return FALSE;
        }
        *uri = env;
    }
    return TRUE;
}

/* VpRunEnv.step: the workflows' steps, for --verbose, on stderr where the
 * errors go too, so that stdout keeps the result (or the JSON document)
 * alone.  A lab's guests call it from several threads: one g_printerr per
 * line keeps their lines whole. */
static void
vp_cli_step(const char *message, gpointer data)
{
    g_printerr("%s: %s\n", g_get_prgname(), message);
}

void
vp_cli_run_reporting(VpRunEnv *run)
{
    run->step = vp_global.verbose ? vp_cli_step : NULL;
    run->option_name = vp_cli_option_name;
    run->data = NULL;
}

gboolean
vp_cli_run_env(VpRunEnv *run, const char *label, GError **error)
{
    if (!vp_cli_connect_uri(&run->uri, error)) {
        return FALSE;
    }
    vp_cli_run_reporting(run);
    run->progress = label != NULL ? vp_cli_progress(label) : NULL;
    run->cancel = vp_interrupt_cancel();
    vp_interrupt_install();
    return TRUE;
}
