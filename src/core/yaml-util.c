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

/* The longest implicit key YAML allows, in characters from its start to
 * its ':' (YAML 1.2, 7.4.2; PyYAML enforces it). */
#define VP_YAML_MAX_IMPLICIT_KEY 1024

/* Whether a double-quoted scalar must escape C (valid UTF-8, so never a
 * surrogate): what YAML does not allow unescaped in a stream (C0 but tab,
 * DEL, C1, U+FFFE, U+FFFF), line breaks, which a quoted scalar folds and
 * YAML 1.1 counts NEL, U+2028 and U+2029 among, and the byte order mark,
 * which a reader may drop. */
static gboolean
vp_yaml_must_escape(gunichar c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 ||
           c == 0x2029 || c == 0xfeff || c == 0xfffe || c == 0xffff;
}

void
vp_yaml_append_quoted(GString *out, const char *value)
{
    g_autofree char *valid = g_utf8_make_valid(value, -1);

    g_string_append_c(out, '"');
    for (const char *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        if (c == '"' || c == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, (char)c);
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c == '\r') {
            g_string_append(out, "\\r");
        } else if (vp_yaml_must_escape(c)) {
            /* \xXX and \uXXXX mean the same in YAML 1.1 and 1.2. */
            g_string_append_printf(out, c <= 0xff ? "\\x%02X" : "\\u%04X", c);
        } else {
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
        }
    }
    g_string_append_c(out, '"');
}

void
vp_yaml_append_key(GString *out, guint indent, const char *key)
{
    g_autoptr(GString) quoted = g_string_new(NULL);

    vp_yaml_append_quoted(quoted, key);
    g_string_append_printf(out, "%*s", (int)indent, "");
    /* Counted in characters, as a reader counts; the quoted form is
     * valid UTF-8. */
    if (g_utf8_strlen(quoted->str, -1) < VP_YAML_MAX_IMPLICIT_KEY) {
        g_string_append_printf(out, "%s:", quoted->str);
    } else {
        g_string_append_printf(out, "? %s\n%*s:", quoted->str, (int)indent, "");
    }
}
