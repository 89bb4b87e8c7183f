/* The command line's names for what the layers below report against: the
 * core says "invalid cluster size 3000" (it serves manifests too, where the
 * same thing is a key), the command line says which option that was; a
 * workflow that tells the user to change an option asks for its name
 * here. */
#include "option-hints.h"

#include <glib/gi18n.h>

#include "error.h"

static const char *const vp_option_names[] = {
    [VP_OPTION_ERROR_SIZE] = "--size",
    [VP_OPTION_ERROR_FORMAT] = "--format",
    [VP_OPTION_ERROR_PREALLOCATION] = "--preallocation",
    [VP_OPTION_ERROR_CLUSTER_SIZE] = "--cluster-size",
    [VP_OPTION_ERROR_COMPAT] = "--compat",
    [VP_OPTION_ERROR_REFCOUNT_BITS] = "--refcount-bits",
    [VP_OPTION_ERROR_EXTENDED_L2] = "--extended-l2",
    [VP_OPTION_ERROR_BACKING] = "--backing",
    [VP_OPTION_ERROR_BACKING_FORMAT] = "--backing-format",
    [VP_OPTION_ERROR_NAME] = "--name",
    [VP_OPTION_ERROR_POOL] = "--pool",
    [VP_OPTION_ERROR_TARGET] = "--target",
    [VP_OPTION_ERROR_DISK] = "--disk",
    [VP_OPTION_ERROR_LIVE] = "--live",
    [VP_OPTION_ERROR_SOURCE_FORMAT] = "--source-format",
    [VP_OPTION_ERROR_PREALLOCATE] = "--preallocate",
    [VP_OPTION_ERROR_REPLACE] = "--replace",
    [VP_OPTION_ERROR_PRUNE] = "--prune",
};

const char *
vp_cli_option_name(VpOptionErrorCode option, gpointer data)
{
    /* Every code has its name: a message must never name no option. */
    g_return_val_if_fail(option >= 0 &&
                             (gsize)option < G_N_ELEMENTS(vp_option_names) &&
                             vp_option_names[option] != NULL,
                         "?");
    return vp_option_names[option];
}

void
vp_cli_label_error(GError *error, const char *option)
{
    /* TRANSLATORS: an option such as --cluster-size, then what is wrong
     * with it, as in "--cluster-size: invalid cluster size 3000: ...". */
    g_autofree char *text = g_strdup_printf(_("%1$s: %2$s"), option,
                                            error->message);
    g_free(error->message);
    error->message = g_steal_pointer(&text);
}

void
vp_cli_name_option(GError *error)
{
    if (error->domain == VP_OPTION_ERROR && error->code >= 0 &&
        (gsize)error->code < G_N_ELEMENTS(vp_option_names)) {
        vp_cli_label_error(error, vp_option_names[error->code]);
    }
}

void
vp_cli_hint_force(GError *error, const char *path)
{
    /* A directory is never replaced, so --force would not help there. */
    if (!g_error_matches(error, VP_ERROR, VP_ERROR_EXISTS) ||
        g_file_test(path, G_FILE_TEST_IS_DIR)) {
        return;
    }
    /* TRANSLATORS: the reason a file was left alone, then the way out. */
    g_autofree char *text = g_strdup_printf(_("%1$s; use --force to replace "
                                              "it"), error->message);
    g_free(error->message);
    error->message = g_steal_pointer(&text);
}
