/* From an error to an exit code, and the one line that reports it: the only
 * place that prints an error that a command hands up. */
#include "exit-codes.h"

#include <string.h>

#include "error.h"
#include "option-hints.h"

/* Usage (2) for whatever the user can fix by typing something else: GOption's
 * own errors, the core's option errors, and VP_ERROR_INVALID; everything else,
 * including a refusing or unreachable daemon, is 1. */
int
vp_cli_exit_code(const GError *error)
{
    if (error->domain == G_OPTION_ERROR || error->domain == VP_OPTION_ERROR ||
        (error->domain == VP_ERROR && error->code == VP_ERROR_INVALID)) {
        return VP_EXIT_USAGE;
    }
    return VP_EXIT_FAILED;
}

/* TEXT with its control characters written as escapes (\n, \t, \xHH):
 * a message quotes what the user wrote, and a newline or an escape sequence
 * in a name must neither split the one-line error nor reach the terminal.
 * Other UTF-8 is kept as it is, translations included. */
static char *
vp_cli_one_line(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '\n') {
            g_string_append(out, "\\n");
        } else if (*p == '\t') {
            g_string_append(out, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            g_string_append_printf(out, "\\x%02x", *p);
        } else {
            g_string_append_c(out, (char)*p);
        }
    }
    return g_string_free(out, FALSE);
}

int
vp_cli_fail(GError *error)
{
    int code = vp_cli_exit_code(error);

    /* Before the print: the core's messages speak of "cluster size", the user
     * typed --cluster-size. */
    vp_cli_name_option(error);
    g_autofree char *line = vp_cli_one_line(error->message);
    g_printerr("%s: %s\n", g_get_prgname(), line);
    g_error_free(error);
    return code;
}
