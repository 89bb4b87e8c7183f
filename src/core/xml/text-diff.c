/* A unified diff of two texts, for --print-diff: small inputs (domain
 * definitions of a few hundred lines), so a plain LCS table is enough. */
#include "text-diff.h"

#include <string.h>

typedef struct {
    char op;       /* ' ', '-', '+' */
    const char *line;
} VpDiffLine;

char *
vp_text_diff(const char *old_text, const char *new_text, const char *old_name,
             const char *new_name)
{
    /* Each line is compared whole, as diff does; definitions are formatted by
     * libxml2, so equal elements print alike. */
    g_auto(GStrv) a = g_strsplit(old_text, "\n", -1);
    g_auto(GStrv) b = g_strsplit(new_text, "\n", -1);
    guint n = g_strv_length(a);
    guint m = g_strv_length(b);

    /* Longest common subsequence: definitions are a few hundred lines. */
    g_autofree guint *lcs = g_new0(guint, (gsize)(n + 1) * (m + 1));
#define LCS(i, j) lcs[(gsize)(i) * (m + 1) + (j)]
    for (guint i = n; i-- > 0;) {
        for (guint j = m; j-- > 0;) {
            LCS(i, j) = g_str_equal(a[i], b[j]) ? LCS(i + 1, j + 1) + 1
                                                : MAX(LCS(i + 1, j), LCS(i, j + 1));
        }
    }
    g_autoptr(GArray) script = g_array_new(FALSE, FALSE, sizeof(VpDiffLine));
    guint i = 0;
    guint j = 0;
    while (i < n || j < m) {
        VpDiffLine l;
        if (i < n && j < m && g_str_equal(a[i], b[j])) {
            l = (VpDiffLine){ ' ', a[i] };
            i++;
            j++;
        } else if (i < n && (j == m || LCS(i + 1, j) >= LCS(i, j + 1))) {
            /* Removals before additions, as diff -u prints them. */
            l = (VpDiffLine){ '-', a[i++] };
        } else {
            l = (VpDiffLine){ '+', b[j++] };
        }
        g_array_append_val(script, l);
    }
#undef LCS

    /* Hunks: changes closer than 2 * 3 context lines share one. */
    GString *out = g_string_new(NULL);
    guint len = script->len;
    guint k = 0;
    while (k < len) {
        while (k < len && g_array_index(script, VpDiffLine, k).op == ' ') {
            k++;
        }
        if (k == len) {
            break;
        }
        /* Extend the hunk while the next change lies within its context. */
        guint last = k;
        for (guint t = k + 1; t < len && t <= last + 6; t++) {
            if (g_array_index(script, VpDiffLine, t).op != ' ') {
                last = t;
            }
        }
        /* Three lines of context either side, as diff -u. */
        guint from = k >= 3 ? k - 3 : 0;
        guint to = MIN(len, last + 4);
        /* Line numbers for the hunk header: count, in each file, the lines
         * before it. */
        guint old_line = 1;
        guint new_line = 1;
        for (guint t = 0; t < from; t++) {
            char op = g_array_index(script, VpDiffLine, t).op;
            old_line += op != '+';
            new_line += op != '-';
        }
        guint old_count = 0;
        guint new_count = 0;
        for (guint t = from; t < to; t++) {
            char op = g_array_index(script, VpDiffLine, t).op;
            old_count += op != '+';
            new_count += op != '-';
        }
        if (out->len == 0) {
            g_string_append_printf(out, "--- %s\n+++ %s\n", old_name, new_name);
        }
        g_string_append_printf(out, "@@ -%u,%u +%u,%u @@\n", old_line,
                               old_count, new_line, new_count);
        for (guint t = from; t < to; t++) {
            const VpDiffLine *l = &g_array_index(script, VpDiffLine, t);
            g_string_append_printf(out, "%c%s\n", l->op, l->line);
        }
        k = to;
    }
    return g_string_free(out, FALSE);
}
