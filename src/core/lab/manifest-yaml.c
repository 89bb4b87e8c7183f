/* The YAML subset of a lab manifest, read through libfyaml's event API
 * into a small tree of our own, and the messages that name a place in it
 * (manifest-private.h).
 *
 * Why events and not libfyaml's document tree: in 0.7.12 the tree keeps
 * marks for scalars only (we report mappings and sequences too), and
 * building it resolves or at least records anchors and aliases, whereas
 * the event stream lets us stop at the first '&' or '*' before any
 * expansion, refuse tags and a second document where they appear, and
 * check every mapping for duplicate keys as it is read. */
#include "manifest-private.h"

#include <stdarg.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "yaml-util.h"

/* ------------------------------------------------------------------ */
/* Messages */

void
vp_lab_error(GError **error, const VpLabCtx *ctx, guint line, guint column,
             const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *msg = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID, "%s:%u:%u: %s", ctx->path,
                line, column, msg);
}

void
vp_lab_locate(GError **error, const VpLabCtx *ctx, guint line, guint column,
              GError *cause)
{
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID, "%s:%u:%u: %s", ctx->path,
                line, column, cause->message);
    g_error_free(cause);
}

/* ------------------------------------------------------------------ */
/* The YAML tree */

void
vp_ynode_free(gpointer data)
{
    VpYNode *n = data;
    if (n == NULL) {
        return;
    }
    g_free(n->text);
    /* Recursion is bounded by VP_YAML_MAX_DEPTH. */
    g_clear_pointer(&n->items, g_ptr_array_unref);
    g_clear_pointer(&n->keys, g_hash_table_unref);
    g_free(n);
}

gboolean
vp_y_is_null(const VpYNode *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    return n->kind == VP_Y_SCALAR && n->plain && g_strv_contains(nulls, n->text);
}

/* 1 for true, 0 for false, -1 for anything else.  YAML 1.2's core schema
 * (JSON's true and false); YAML 1.1's yes/no/on/off are not booleans
 * here, so that they cannot mean different things to different readers. */
int
vp_y_bool(const VpYNode *n)
{
    static const char *const yes[] = { "true", "True", "TRUE", NULL };
    static const char *const no[] = { "false", "False", "FALSE", NULL };
    if (n->kind != VP_Y_SCALAR || !n->plain) {
        return -1;
    }
    return g_strv_contains(yes, n->text) ? 1
           : g_strv_contains(no, n->text) ? 0
                                          : -1;
}

/* Nesting a manifest may have: it needs four levels (top, guests, a
 * guest, its cloud-init).  libfyaml's event parser has no limit of its
 * own, and ours keeps the tree's recursive free bounded. */
#define VP_YAML_MAX_DEPTH 16

typedef struct {
    const VpLabCtx *ctx;
    VpYNode *root;
    GPtrArray *stack; /* open mappings and sequences, borrowed */
    guint documents;
    guint last_line, last_column; /* of the last event that had a mark */
} VpYBuild;

/* The 1-based position of M; 0 when libfyaml has none (an empty plain
 * scalar).  libfyaml marks an anchor, an alias and a quoted scalar after
 * their '&', '*' or quote: we point at the character the reader sees
 * first, which is the byte before (an ASCII character, so one column). */
static void
vp_mark(const VpLabCtx *ctx, const struct fy_mark *m, guint *line,
        guint *column)
{
    *line = m != NULL ? (guint)m->line + 1 : 0;
    *column = m != NULL ? (guint)m->column + 1 : 0;
    if (m != NULL && m->input_pos > 0 && m->input_pos <= ctx->len &&
        ctx->text[m->input_pos - 1] != '\0' &&
        strchr("&*'\"", ctx->text[m->input_pos - 1]) != NULL &&
        *column > 1) {
        (*column)--;
    }
}

/* Attaches the new node N to the open collection, or makes it the root.
 * A mapping's even items are keys: each must be a non-empty scalar, and
 * the same key twice is refused here, because libfyaml's own check is
 * for its document tree, which we do not build. */
static gboolean
vp_ybuild_attach(VpYBuild *b, VpYNode *n, GError **error)
{
    if (b->stack->len == 0) {
        b->root = n;
        if (n->line == 0) {
            n->line = n->column = 1;
        }
        return TRUE;
    }
    VpYNode *parent = g_ptr_array_index(b->stack, b->stack->len - 1);
    gboolean is_key = parent->kind == VP_Y_MAPPING && parent->items->len % 2 == 0;
    g_ptr_array_add(parent->items, n);
    if (parent->line == 0) {
        parent->line = n->line;
        parent->column = n->column;
    }
    if (!is_key) {
        const VpYNode *key = parent->kind == VP_Y_MAPPING
            ? g_ptr_array_index(parent->items, parent->items->len - 2) : NULL;
        /* A null key without a mark of its own ("  : x") is reported at
         * its value, the nearest thing on its line. */
        if (key != NULL && vp_y_is_null(key)) {
            vp_lab_error(error, b->ctx, MAX(n->line, parent->line),
                         n->line != 0 ? n->column : parent->column,
                         _("a key is empty; write 'key: value'"));
            return FALSE;
        }
        /* An empty item of a list ("-" alone) has no mark; the event
         * before it (the end of the item before) is marked at its '-'. */
        if (n->line == 0) {
            n->line = b->last_line;
            n->column = b->last_column;
        }
        return TRUE;
    }
    if (n->kind != VP_Y_SCALAR) {
        vp_lab_error(error, b->ctx, n->line, n->column,
                     _("a key must be a word, not a mapping or a list; write 'key: value'"));
        return FALSE;
    }
    if (vp_y_is_null(n)) {
        if (n->line == 0) {
            return TRUE; /* reported with its value, above */
        }
        vp_lab_error(error, b->ctx, n->line, n->column,
                     _("a key is empty; write 'key: value'"));
        return FALSE;
    }
    const VpYNode *first = g_hash_table_lookup(parent->keys, n->text);
    if (first != NULL) {
        vp_lab_error(error, b->ctx, n->line, n->column,
                     _("key '%1$s' is given twice, first at line %2$u, column %3$u; keep one"),
                     n->text, first->line, first->column);
        return FALSE;
    }
    g_hash_table_insert(parent->keys, n->text, n);
    return TRUE;
}

static gboolean vp_ybuild_apply(VpYBuild *b, struct fy_event *ev,
                                 GError **error);

static gboolean
vp_ybuild_event(VpYBuild *b, struct fy_event *ev, GError **error)
{
    if (!vp_ybuild_apply(b, ev, error)) {
        return FALSE;
    }
    guint line, column;
    vp_mark(b->ctx, fy_event_start_mark(ev), &line, &column);
    if (line != 0) {
        b->last_line = line;
        b->last_column = column;
    }
    return TRUE;
}

static gboolean
vp_ybuild_apply(VpYBuild *b, struct fy_event *ev, GError **error)
{
    guint line, column;
    vp_mark(b->ctx, fy_event_start_mark(ev), &line, &column);

    switch (ev->type) {
    case FYET_DOCUMENT_START:
        if (++b->documents > 1) {
            vp_lab_error(error, b->ctx, MAX(line, 1), MAX(column, 1),
                         _("a second YAML document starts here; a manifest is one document, so remove this '---' and what follows, or merge them"));
            return FALSE;
        }
        return TRUE;
    case FYET_ALIAS:
        vp_lab_error(error, b->ctx, line, column,
                     _("aliases ('*name') are not allowed in a lab manifest; write the value out, and put keys that guests share in 'defaults'"));
        return FALSE;
    case FYET_SCALAR:
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START: {
        struct fy_token *anchor = fy_event_get_anchor_token(ev);
        struct fy_token *tag = fy_event_get_tag_token(ev);
        if (anchor != NULL) {
            vp_mark(b->ctx, fy_token_start_mark(anchor), &line, &column);
            vp_lab_error(error, b->ctx, line, column,
                         _("anchors ('&name') are not allowed in a lab manifest; write the value out, and put keys that guests share in 'defaults'"));
            return FALSE;
        }
        if (tag != NULL) {
            vp_mark(b->ctx, fy_token_start_mark(tag), &line, &column);
            vp_lab_error(error, b->ctx, line, column,
                         _("tags ('!name') are not allowed in a lab manifest; remove the tag, and quote a value that must stay text"));
            return FALSE;
        }
        g_autoptr(VpYNode) n = g_new0(VpYNode, 1);
        n->line = line;
        n->column = column;
        if (ev->type == FYET_SCALAR) {
            size_t len = 0;
            const char *text = fy_token_get_text(ev->scalar.value, &len);
            if (text == NULL) {
                text = "";
                len = 0;
            }
            /* Only a double-quoted "\0" gets here: the input is checked to
             * hold no NUL byte. */
            if (memchr(text, '\0', len) != NULL) {
                vp_lab_error(error, b->ctx, line, column,
                             _("a value holds a NUL character; remove the '\\0'"));
                return FALSE;
            }
            n->kind = VP_Y_SCALAR;
            n->text = g_strndup(text, len);
            n->plain = fy_token_scalar_style(ev->scalar.value) == FYSS_PLAIN;
        } else {
            n->kind = ev->type == FYET_MAPPING_START ? VP_Y_MAPPING : VP_Y_SEQUENCE;
            n->items = g_ptr_array_new_with_free_func(vp_ynode_free);
            if (n->kind == VP_Y_MAPPING) {
                n->keys = g_hash_table_new(g_str_hash, g_str_equal);
            }
        }
        /* Attached even on failure: the tree frees it. */
        VpYNode *node = g_steal_pointer(&n);
        if (!vp_ybuild_attach(b, node, error)) {
            return FALSE;
        }
        if (node->kind != VP_Y_SCALAR) {
            if (b->stack->len >= VP_YAML_MAX_DEPTH) {
                vp_lab_error(error, b->ctx, node->line, node->column,
                             _("the manifest nests mappings and lists deeper than %1$u levels; a manifest needs four"),
                             (guint)VP_YAML_MAX_DEPTH);
                return FALSE;
            }
            g_ptr_array_add(b->stack, node);
        }
        return TRUE;
    }
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END: {
        VpYNode *n = g_ptr_array_steal_index(b->stack, b->stack->len - 1);
        if (n->line == 0) {
            n->line = MAX(line, 1);
            n->column = MAX(column, 1);
        }
        g_clear_pointer(&n->keys, g_hash_table_unref);
        return TRUE;
    }
    default:
        return TRUE;
    }
}

/* Position of byte OFFSET of TEXT, 1-based, the column in characters. */
static void
vp_text_position(const char *text, gsize offset, guint *line, guint *column)
{
    const char *start = text;
    *line = 1;
    for (gsize i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            start = text + i + 1;
        }
    }
    /* Everything before OFFSET is valid UTF-8. */
    *column = (guint)g_utf8_strlen(start, text + offset - start) + 1;
}

/* Reads TEXT into a tree; NULL root (without error) when the stream holds
 * no node, or only a null one. */
gboolean
vp_lab_yaml_read(const VpLabCtx *ctx, const char *text, gsize len,
                 VpYNode **root, GError **error)
{
    const char *bad = NULL;
    if (!g_utf8_validate_len(text, len, &bad)) {
        guint line, column;
        vp_text_position(text, (gsize)(bad - text), &line, &column);
        if (*bad == '\0') {
            vp_lab_error(error, ctx, line, column,
                         _("the manifest holds a NUL byte; save it as UTF-8 text"));
        } else {
            vp_lab_error(error, ctx, line, column,
                         _("the manifest is not UTF-8 text; convert it to UTF-8"));
        }
        return FALSE;
    }

    /* A text nesting flow collections too deep is read up to the bracket
     * too deep: the tree's check below, which counts block levels too,
     * then refuses it there or before. */
    g_auto(VpYamlReader) y = { 0 };
    vp_yaml_reader_open(&y, text, len, VP_YAML_MAX_DEPTH);

    g_autoptr(GPtrArray) stack = g_ptr_array_new();
    VpYBuild b = { .ctx = ctx, .stack = stack };
    gboolean ok = TRUE;
    for (struct fy_event *ev; ok && (ev = fy_parser_parse(y.parser)) != NULL;) {
        ok = vp_ybuild_event(&b, ev, error);
        fy_parser_event_free(y.parser, ev);
    }
    g_autoptr(VpYNode) tree = b.root;
    if (!ok) {
        return FALSE;
    }
    if (y.deep) {
        vp_lab_error(error, ctx, y.deep_line, y.deep_column,
                     _("the manifest nests mappings and lists deeper than %1$u levels; a manifest needs four"),
                     (guint)VP_YAML_MAX_DEPTH);
        return FALSE;
    }
    if (y.first != NULL || fy_parser_get_stream_error(y.parser)) {
        guint line = 0;
        guint column = 0;
        const char *msg = y.first != NULL
                          ? vp_yaml_diag_split(y.first, &line, &column)
                          : "syntax error";
        line = MAX(line, 1);
        column = MAX(column, 1);
        vp_lab_error(error, ctx, line, column,
                     _("the manifest is not valid YAML: %1$s; fix the syntax here"),
                     msg);
        return FALSE;
    }
    if (tree != NULL && vp_y_is_null(tree)) {
        g_clear_pointer(&tree, vp_ynode_free);
    }
    *root = g_steal_pointer(&tree);
    return TRUE;
}
