/* libfyaml glue: see yaml-util.h. */
#include "yaml-util.h"

#include <stdlib.h>
#include <string.h>

/* Only errors are kept, and only the first: a later one is usually a
 * consequence of it.  A failed load of an input without any document is
 * reported without ": error: " and position, and is dropped here: an
 * empty input is the caller's to judge, not a syntax error. */
static void
vp_yaml_diag_keep(struct fy_diag *diag, void *user, const char *buf,
                  size_t len)
{
    char **first = user;
    if (*first == NULL && g_strstr_len(buf, (gssize)len, ": error: ") != NULL) {
        *first = g_strndup(buf, len);
    }
}

VpFyDiag *
vp_yaml_diag_new(char **first)
{
    struct fy_diag_cfg cfg;

    fy_diag_cfg_default(&cfg);
    cfg.fp = NULL;
    cfg.output_fn = vp_yaml_diag_keep;
    cfg.user = first;
    cfg.level = FYET_ERROR;
    cfg.colorize = false;
    VpFyDiag *diag = fy_diag_create(&cfg);
    if (diag == NULL) {
        g_error("libfyaml: out of memory");
    }
    return diag;
}

const char *
vp_yaml_diag_split(char *diag, guint *line, guint *column)
{
    *line = *column = 0;
    char *text = strstr(diag, ": error: ");
    if (text == NULL) {
        return g_strstrip(diag);
    }
    *text = '\0';
    /* The position is the last two ":N" before the marker; the input name
     * before them may itself contain colons. */
    char *col = strrchr(diag, ':');
    if (col != NULL) {
        *column = (guint)MAX(atoi(col + 1), 0);
        *col = '\0';
        char *ln = strrchr(diag, ':');
        if (ln != NULL) {
            *line = (guint)MAX(atoi(ln + 1), 0);
        }
    }
    return g_strstrip(text + strlen(": error: "));
}

void
vp_yaml_mark_position(const char *text, gsize len, const struct fy_mark *m,
                      guint *line, guint *column)
{
    *line = m != NULL ? (guint)m->line + 1 : 0;
    *column = m != NULL ? (guint)m->column + 1 : 0;
    if (m != NULL && m->input_pos > 0 && (gsize)m->input_pos <= len &&
        (text[m->input_pos - 1] == '&' || text[m->input_pos - 1] == '*') &&
        *column > 1) {
        (*column)--;
    }
}
