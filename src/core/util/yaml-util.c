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

/* ------------------------------------------------------------------ */
/* Flow nesting, before libfyaml
 *
 * What the scan must agree on with libfyaml's scanner is only where a
 * '[' or '{' is an indicator: everywhere outside a scalar or a comment.
 * A plain scalar cannot begin with one, so the scan needs to know where
 * scalars begin and end, and it errs towards ending them early: the
 * continuation lines of a multi-line plain scalar are read as new lines,
 * and a block scalar's lines as text only when they are indented more
 * than the key or '-' that owns it (libfyaml's limit is that or less). */

typedef struct {
    const char *text;
    gsize len;
    gsize at;         /* the next byte */
    gsize line_start; /* offset of the current line */
    guint line;       /* 1-based */
    guint depth;      /* open flow collections */
    guint max_depth;
} VpYScan;

static gboolean
vp_yscan_blank_at(const VpYScan *s, gsize at)
{
    return at >= s->len || strchr(" \t\r\n", s->text[at]) != NULL;
}

/* How many bytes from AT on are among CHARS; never past the end. */
static gsize
vp_yscan_span(const VpYScan *s, gsize at, const char *chars)
{
    gsize n = 0;
    while (at + n < s->len && s->text[at + n] != '\0' &&
           strchr(chars, s->text[at + n]) != NULL) {
        n++;
    }
    return n;
}

/* Steps over the '\n' at s->at. */
static void
vp_yscan_newline(VpYScan *s)
{
    s->at++;
    s->line_start = s->at;
    s->line++;
}

static void
vp_yscan_to_eol(VpYScan *s)
{
    while (s->at < s->len && s->text[s->at] != '\n') {
        s->at++;
    }
}

/* From the opening quote at s->at past the closing one, across lines.
 * "\x" escapes any character in double quotes, '' a quote in single. */
static void
vp_yscan_quoted(VpYScan *s)
{
    char quote = s->text[s->at++];
    while (s->at < s->len) {
        char c = s->text[s->at];
        if (c == '\n') {
            vp_yscan_newline(s);
        } else if (quote == '"' && c == '\\') {
            s->at += s->at + 1 < s->len && s->text[s->at + 1] != '\n' ? 2 : 1;
        } else if (c == quote) {
            s->at++;
            if (quote == '\'' && s->at < s->len && s->text[s->at] == '\'') {
                s->at++;
                continue;
            }
            return;
        } else {
            s->at++;
        }
    }
}

/* From the '[' or '{' at s->at to just after the bracket that closes it,
 * across lines.  FALSE, with s->at on it, at a bracket beyond the limit. */
static gboolean
vp_yscan_flow(VpYScan *s)
{
    /* A quote opens a scalar only where a token starts: libfyaml reads
     * the quote in [a "b"] as part of the plain scalar a "b". */
    gboolean token_start = TRUE;
    gboolean after_json = FALSE; /* a quoted scalar or collection ended */

    while (s->at < s->len) {
        char c = s->text[s->at];
        gboolean blank_before = s->at == s->line_start ||
                                strchr(" \t\r", s->text[s->at - 1]) != NULL;
        if (c == '\n') {
            vp_yscan_newline(s);
        } else if (c == ' ' || c == '\t' || c == '\r') {
            s->at++;
        } else if (c == '[' || c == '{') {
            if (s->depth >= s->max_depth) {
                return FALSE;
            }
            s->depth++;
            s->at++;
            token_start = TRUE;
            after_json = FALSE;
        } else if (c == ']' || c == '}') {
            s->at++;
            if (--s->depth == 0) {
                return TRUE;
            }
            token_start = FALSE;
            after_json = TRUE;
        } else if (c == '#' && blank_before) {
            vp_yscan_to_eol(s);
        } else if (c == ',' ||
                   ((c == ':' || c == '?') &&
                    (after_json || vp_yscan_blank_at(s, s->at + 1) ||
                     strchr(",[]{}", s->text[s->at + 1]) != NULL))) {
            s->at++;
            token_start = TRUE;
            after_json = FALSE;
        } else if ((c == '"' || c == '\'') && token_start) {
            vp_yscan_quoted(s);
            token_start = FALSE;
            after_json = TRUE;
        } else {
            s->at++;
            token_start = FALSE;
            after_json = FALSE;
        }
    }
    return TRUE; /* unclosed: libfyaml reports it */
}

/* One line in block context, from its first non-blank character; a flow
 * collection or a quoted scalar may carry it over to later lines.  Sets
 * *BLOCK_SCALAR and *PARENT (the column its text must be indented beyond)
 * when the line ends with a block scalar's header ('|' or '>'). */
static gboolean
vp_yscan_block_line(VpYScan *s, gboolean *block_scalar, gint *parent)
{
    gboolean plain = FALSE; /* inside a plain scalar */
    gint owner = -1;        /* column of the last '-', '?' or key here */
    gint token_col = -1;    /* column of the last scalar or collection */
    gint first_col = (gint)(s->at - s->line_start);

    *block_scalar = FALSE;
    while (s->at < s->len && s->text[s->at] != '\n') {
        char c = s->text[s->at];
        gint col = (gint)(s->at - s->line_start);
        gboolean blank_before = s->at == s->line_start ||
                                strchr(" \t\r", s->text[s->at - 1]) != NULL;
        if (c == '#' && blank_before) {
            vp_yscan_to_eol(s);
        } else if (plain) {
            if (c == ':' && vp_yscan_blank_at(s, s->at + 1)) {
                plain = FALSE;
                owner = token_col;
            }
            s->at++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            s->at++;
        } else if ((c == '-' || c == '?' || c == ':') &&
                   vp_yscan_blank_at(s, s->at + 1)) {
            owner = c == ':' ? MAX(owner, token_col) : col;
            s->at++;
        } else if (col == 0 && s->len - s->at >= 3 &&
                   (memcmp(s->text + s->at, "---", 3) == 0 ||
                    memcmp(s->text + s->at, "...", 3) == 0) &&
                   vp_yscan_blank_at(s, s->at + 3)) {
            s->at += 3;
        } else if (col == 0 && c == '%') {
            vp_yscan_to_eol(s);
        } else if (c == '[' || c == '{') {
            token_col = col;
            if (!vp_yscan_flow(s)) {
                return FALSE;
            }
        } else if (c == '"' || c == '\'') {
            token_col = col;
            vp_yscan_quoted(s);
        } else if (c == '|' || c == '>') {
            /* The header's rest is indicators and a comment. */
            *block_scalar = TRUE;
            *parent = MAX(owner >= 0 ? owner : first_col - 1, 0);
            vp_yscan_to_eol(s);
        } else if (c == '&' || c == '!' || c == '*') {
            /* An anchor, a tag or an alias: a word that holds no scalar. */
            while (!vp_yscan_blank_at(s, s->at)) {
                s->at++;
            }
        } else if (c == ',' || c == ']' || c == '}') {
            s->at++; /* out of place; libfyaml reports it */
        } else {
            plain = TRUE;
            token_col = col;
            s->at++;
        }
    }
    return TRUE;
}

gboolean
vp_yaml_check_flow_depth(const char *text, gsize len, guint max_depth,
                         gsize *offset, guint *line, guint *column)
{
    VpYScan s = { .text = text, .len = len, .line = 1,
                  .max_depth = max_depth };
    gboolean in_block_scalar = FALSE;
    gint parent = 0;
    gsize indent_of_text = 0; /* of the block scalar; 0 until its first line */

    while (s.at < s.len) {
        gsize indent = vp_yscan_span(&s, s.at, " ");
        if (in_block_scalar) {
            gsize rest = vp_yscan_span(&s, s.at, " \t\r");
            gboolean blank = s.at + rest >= s.len || s.text[s.at + rest] == '\n';
            if (indent_of_text == 0 && !blank && indent > (gsize)parent) {
                indent_of_text = indent;
            }
            if (blank || (indent_of_text > 0 && indent >= indent_of_text)) {
                vp_yscan_to_eol(&s);
                if (s.at < s.len) {
                    vp_yscan_newline(&s);
                }
                continue;
            }
            in_block_scalar = FALSE;
        }
        s.at += indent;
        if (!vp_yscan_block_line(&s, &in_block_scalar, &parent)) {
            *offset = s.at;
            *line = s.line;
            *column = (guint)g_utf8_strlen(s.text + s.line_start,
                                           (gssize)(s.at - s.line_start)) + 1;
            return FALSE;
        }
        indent_of_text = 0;
        if (s.at < s.len) {
            vp_yscan_newline(&s);
        }
    }
    return TRUE;
}

void
vp_yaml_reader_open(VpYamlReader *r, const char *text, gsize len,
                    guint max_depth)
{
    gsize deep_at = 0;

    *r = (VpYamlReader){ 0 };
    /* libfyaml's scanner holds a deep flow collection whole before the
     * first event; the prefix up to the bracket too deep is cheap. */
    r->deep = !vp_yaml_check_flow_depth(text, len, max_depth, &deep_at,
                                        &r->deep_line, &r->deep_column);
    if (r->deep) {
        len = deep_at + 1;
    }
    r->diag = vp_yaml_diag_new(&r->first);
    const struct fy_parse_cfg pcfg = { .diag = r->diag };
    r->parser = fy_parser_create(&pcfg);
    if (r->parser == NULL || fy_parser_set_string(r->parser, text, len) != 0) {
        g_error("libfyaml: out of memory");
    }
}

void
vp_yaml_reader_clear(VpYamlReader *r)
{
    /* The parser reports to the diagnostics: it goes first. */
    g_clear_pointer(&r->parser, fy_parser_destroy);
    g_clear_pointer(&r->diag, fy_diag_unref);
    g_clear_pointer(&r->first, g_free);
}
