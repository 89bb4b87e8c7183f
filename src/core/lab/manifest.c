/* The lab manifest: a YAML subset read through libfyaml's event API into a
 * small tree of our own, then checked key by key.  See manifest.h.
 *
 * Why events and not libfyaml's document tree: in 0.7.12 the tree keeps
 * marks for scalars only (we report mappings and sequences too), and
 * building it resolves or at least records anchors and aliases, whereas
 * the event stream lets us stop at the first '&' or '*' before any
 * expansion, refuse tags and a second document where they appear, and
 * check every mapping for duplicate keys as it is read. */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "error.h"
#include "image-options.h"
#include "read-file.h"
#include "size.h"
#include "source.h"
#include "uri.h"
#include "yaml-util.h"

/* libfyaml's types are struct tags only; g_autoptr() wants type names. */

/* ------------------------------------------------------------------ */
/* Context and messages */

typedef struct {
    const char *path; /* as given, for messages */
    char *dir;        /* absolute directory of the manifest */
    /* The folders beneath which the files a manifest names may be (their
     * real paths): the manifest's own directory, when it exists, and each
     * --allow-path folder. */
    GPtrArray *roots;
    const char *text; /* the manifest, LEN bytes */
    gsize len;
} VpLabCtx;

/* Sets ERROR to "PATH:LINE:COLUMN: MESSAGE", the form compilers use, so
 * editors jump to the place.  FORMAT is a whole translated message. */
static void G_GNUC_PRINTF(5, 6)
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

/* Puts the position in front of an error of another module (a size). */
static void
vp_lab_locate(GError **error, const VpLabCtx *ctx, guint line, guint column,
              GError *cause)
{
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID, "%s:%u:%u: %s", ctx->path,
                line, column, cause->message);
    g_error_free(cause);
}

/* ------------------------------------------------------------------ */
/* The YAML tree */

typedef enum {
    VP_Y_SCALAR,
    VP_Y_MAPPING,
    VP_Y_SEQUENCE,
} VpYKind;

typedef struct VpYNode VpYNode;
struct VpYNode {
    VpYKind kind;
    guint line, column; /* 1-based; 0 until known (an implicit start) */
    char *text;         /* scalar content, NUL-terminated */
    gboolean plain;     /* a plain scalar, whose text may mean null, a
                         * boolean or a number; quoted ones are strings */
    GPtrArray *items;   /* sequence: values; mapping: key, value, ... */
    GHashTable *keys;   /* while a mapping is read: key text -> key node */
};

static void
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
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpYNode, vp_ynode_free)

static gboolean
vp_y_is_null(const VpYNode *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    return n->kind == VP_Y_SCALAR && n->plain && g_strv_contains(nulls, n->text);
}

/* 1 for true, 0 for false, -1 for anything else.  YAML 1.2's core schema
 * (JSON's true and false); YAML 1.1's yes/no/on/off are not booleans
 * here, so that they cannot mean different things to different readers. */
static int
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
static gboolean
vp_yaml_read(const VpLabCtx *ctx, const char *text, gsize len,
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

    /* libfyaml's scanner holds a deep flow collection whole before the
     * first event would let the tree's check below refuse it.  A prefix
     * that ends at the bracket too deep is cheap, and gives that check
     * (which counts block levels too) the place to refuse it. */
    gsize deep_at = 0;
    guint deep_line = 0;
    guint deep_column = 0;
    gboolean deep = !vp_yaml_check_flow_depth(text, len, VP_YAML_MAX_DEPTH,
                                              &deep_at, &deep_line,
                                              &deep_column);
    if (deep) {
        len = deep_at + 1;
    }

    g_autofree char *first = NULL;
    g_autoptr(VpFyDiag) diag = vp_yaml_diag_new(&first);
    const struct fy_parse_cfg pcfg = { .diag = diag };
    g_autoptr(VpFyParser) parser = fy_parser_create(&pcfg);
    if (parser == NULL || fy_parser_set_string(parser, text, len) != 0) {
        g_error("libfyaml: out of memory");
    }

    g_autoptr(GPtrArray) stack = g_ptr_array_new();
    VpYBuild b = { .ctx = ctx, .stack = stack };
    gboolean ok = TRUE;
    for (struct fy_event *ev; ok && (ev = fy_parser_parse(parser)) != NULL;) {
        ok = vp_ybuild_event(&b, ev, error);
        fy_parser_event_free(parser, ev);
    }
    g_autoptr(VpYNode) tree = b.root;
    if (!ok) {
        return FALSE;
    }
    if (deep) {
        vp_lab_error(error, ctx, deep_line, deep_column,
                     _("the manifest nests mappings and lists deeper than %1$u levels; a manifest needs four"),
                     (guint)VP_YAML_MAX_DEPTH);
        return FALSE;
    }
    if (first != NULL || fy_parser_get_stream_error(parser)) {
        guint line = 0;
        guint column = 0;
        const char *msg = first != NULL
                          ? vp_yaml_diag_split(first, &line, &column)
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

/* ------------------------------------------------------------------ */
/* Keys */

typedef enum {
    VP_KEY_TEXT,       /* any non-empty text */
    VP_KEY_SIZE,       /* vp_size_parse(), optionally a power of two in range */
    VP_KEY_MEMORY,     /* a size, or a bare number of MiB (as virt-install) */
    VP_KEY_INTEGER,    /* a plain decimal number in range */
    VP_KEY_CHOICE,     /* one of CHOICES, or what ACCEPTS takes */
    VP_KEY_FLAG,       /* true; false is the same as absent */
    VP_KEY_WAIT,       /* true, or a number of seconds */
    VP_KEY_NETWORK,    /* network=NAME, bridge=BR, user or none */
    VP_KEY_CLOUD_INIT, /* true, or a mapping of the seed's files */
} VpKeyKind;

typedef struct {
    const char *name;
    VpKeyKind kind;
    const char *example;             /* a valid value, for messages */
    const char *hint;                /* N_(): what it takes, for messages */
    guint64 min, max;                /* INTEGER, SIZE (max 0: unbounded) */
    gboolean power_of_two;           /* INTEGER, SIZE */
    const char *const *choices;      /* CHOICE, NULL-terminated */
    gboolean (*accepts)(const char *); /* CHOICE, instead of CHOICES */
} VpKeyInfo;

static gboolean
vp_accepts_format(const char *text)
{
    VpImageFormat f;
    return vp_image_format_from_string(text, &f);
}

static gboolean
vp_accepts_preallocation(const char *text)
{
    VpPreallocation p;
    return vp_preallocation_from_string(text, &p);
}

static gboolean
vp_accepts_compat(const char *text)
{
    guint32 v;
    return vp_compat_from_string(text, &v);
}

static const char *const vp_virt_types[] = { "kvm", "qemu", NULL };
static const char *const vp_graphics[] = { "none", "vnc", "spice", NULL };
static const char *const vp_caches[] = { "none", "writeback", "writethrough",
                                         "directsync", "unsafe", "default", NULL };
static const char *const vp_ios[] = { "native", "threads", "io_uring", NULL };
static const char *const vp_discards[] = { "unmap", "ignore", NULL };

/* The keys a guest (or defaults) may have: provision's options by their
 * long names (design.md DISK, DOMAIN and IMAGE; src/cli/provision-args.c
 * and vp_disk_option_entries), with the same ranges and choices.  The
 * core cannot include the command line's table, so a new option must be
 * added here too.  Left out on purpose: no-define (a lab guest is a
 * domain, which holds its ownership record), print-xml and dry-run
 * (about a run, not a guest); see vp_run_keys. */
static const VpKeyInfo vp_guest_keys[] = {
    { .name = "pool", .kind = VP_KEY_TEXT, .example = "default" },
    { .name = "size", .kind = VP_KEY_SIZE, .example = "20G" },
    { .name = "base", .kind = VP_KEY_TEXT, .example = "debian-12.qcow2" },
    { .name = "cloud-init", .kind = VP_KEY_CLOUD_INIT,
      .example = "{user-data: ./user-data}" },
    { .name = "memory", .kind = VP_KEY_MEMORY, .example = "4G",
      .hint = N_("a size such as 4G, or a number of MiB such as 4096, of at least 16M") },
    { .name = "vcpus", .kind = VP_KEY_INTEGER, .example = "2",
      .hint = N_("a whole number from 1 to 4096"),
      .min = 1, .max = 4096 },
    { .name = "virt-type", .kind = VP_KEY_CHOICE, .example = "kvm",
      .hint = N_("kvm or qemu"),
      .choices = vp_virt_types },
    { .name = "arch", .kind = VP_KEY_TEXT, .example = "x86_64" },
    { .name = "machine", .kind = VP_KEY_TEXT, .example = "q35" },
    { .name = "cdrom", .kind = VP_KEY_TEXT,
      .example = "/var/lib/libvirt/images/install.iso" },
    { .name = "kernel", .kind = VP_KEY_TEXT,
      .example = "/var/lib/libvirt/boot/vmlinuz" },
    { .name = "initrd", .kind = VP_KEY_TEXT,
      .example = "/var/lib/libvirt/boot/initrd.img" },
    { .name = "cmdline", .kind = VP_KEY_TEXT, .example = "console=ttyS0" },
    { .name = "import", .kind = VP_KEY_FLAG, .example = "true",
      .hint = N_("true or false") },
    { .name = "network", .kind = VP_KEY_NETWORK, .example = "network=default",
      .hint = N_("network=NAME, bridge=BR, user or none") },
    { .name = "graphics", .kind = VP_KEY_CHOICE, .example = "none",
      .hint = N_("none, vnc or spice"),
      .choices = vp_graphics },
    { .name = "disk-bus", .kind = VP_KEY_CHOICE, .example = "virtio",
      .hint = N_("virtio, scsi, sata or ide"),
      .choices = vp_disk_buses },
    { .name = "cache", .kind = VP_KEY_CHOICE, .example = "none",
      .hint = N_("none, writeback, writethrough, directsync or unsafe"),
      .choices = vp_caches },
    { .name = "io", .kind = VP_KEY_CHOICE, .example = "native",
      .hint = N_("native, threads or io_uring"),
      .choices = vp_ios },
    { .name = "discard", .kind = VP_KEY_CHOICE, .example = "unmap",
      .hint = N_("unmap or ignore"),
      .choices = vp_discards },
    { .name = "start", .kind = VP_KEY_FLAG, .example = "true",
      .hint = N_("true or false") },
    { .name = "autostart", .kind = VP_KEY_FLAG, .example = "true",
      .hint = N_("true or false") },
    { .name = "wait", .kind = VP_KEY_WAIT, .example = "600",
      .hint = N_("true, or a number of seconds from 1 to 86400"), .min = 1, .max = 86400 },
    { .name = "format", .kind = VP_KEY_CHOICE, .example = "qcow2",
      .hint = N_("qcow2 or raw"),
      .accepts = vp_accepts_format },
    { .name = "preallocation", .kind = VP_KEY_CHOICE, .example = "metadata",
      .hint = N_("off, metadata, falloc or full"), .accepts = vp_accepts_preallocation },
    { .name = "cluster-size", .kind = VP_KEY_SIZE, .example = "64K",
      .hint = N_("a power of two from 512 bytes to 2M, such as 64K"),
      .min = 512, .max = 2 * 1024 * 1024, .power_of_two = TRUE },
    { .name = "compat", .kind = VP_KEY_CHOICE, .example = "1.1",
      .hint = N_("0.10 or 1.1"),
      .accepts = vp_accepts_compat },
    { .name = "refcount-bits", .kind = VP_KEY_INTEGER, .example = "16",
      .hint = N_("1, 2, 4, 8, 16, 32 or 64"),
      .min = 1, .max = 64, .power_of_two = TRUE },
    { .name = "lazy-refcounts", .kind = VP_KEY_FLAG, .example = "true",
      .hint = N_("true or false") },
    { .name = "extended-l2", .kind = VP_KEY_FLAG, .example = "true",
      .hint = N_("true or false") },
    { .name = "backing", .kind = VP_KEY_TEXT,
      .example = "/var/lib/libvirt/images/base.qcow2" },
    { .name = "backing-format", .kind = VP_KEY_TEXT, .example = "qcow2" },
};

/* Options of the command line that a manifest refuses with a reason
 * rather than as unknown. */
static const char *const vp_run_keys[] = { "no-define", "print-xml", "dry-run",
                                           NULL };

/* Keys of a guest entry that are not provision options. */
static const char *const vp_entry_keys[] = { "name", "host", "count", NULL };
static const char *const vp_top_keys[] = { "lab", "hosts", "defaults", "guests",
                                           NULL };
static const char *const vp_seed_keys[] = { "user-data", "meta-data",
                                            "network-config", "root-ssh-key",
                                            "clouduser-ssh-key", "disable", NULL };

static const VpKeyInfo *
vp_key_info(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_guest_keys); i++) {
        if (strcmp(vp_guest_keys[i].name, name) == 0) {
            return &vp_guest_keys[i];
        }
    }
    return NULL;
}

/* Levenshtein distance of A and B, giving up (returning LIMIT + 1) once
 * it exceeds LIMIT; keys are short, and an unknown key may be long. */
static guint
vp_edit_distance(const char *a, const char *b, guint limit)
{
    gsize la = strlen(a);
    gsize lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > limit || lb > 64) {
        return limit + 1;
    }
    guint prev[65];
    guint cur[65];
    for (gsize j = 0; j <= lb; j++) {
        prev[j] = (guint)j;
    }
    for (gsize i = 1; i <= la; i++) {
        cur[0] = (guint)i;
        guint best = cur[0];
        for (gsize j = 1; j <= lb; j++) {
            guint sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            guint del = prev[j] + 1;
            guint ins = cur[j - 1] + 1;
            cur[j] = MIN(sub, MIN(del, ins));
            best = MIN(best, cur[j]);
        }
        if (best > limit) {
            return limit + 1;
        }
        memcpy(prev, cur, sizeof(guint) * (lb + 1));
    }
    return prev[lb];
}

/* The one known key within edit distance 2 of KEY that is nearer than any
 * other, or NULL: a suggestion is only useful when it is unambiguous.
 * The known keys are NAMES (NULL-terminated, may be NULL) and, with
 * GUEST_KEYS, the provision keys. */
static const char *
vp_suggest(const char *key, const char *const *names, gboolean guest_keys)
{
    const char *best = NULL;
    guint best_d = 3;
    gboolean tie = FALSE;
    gsize n_names = names != NULL ? g_strv_length((char **)names) : 0;
    gsize n_keys = guest_keys ? G_N_ELEMENTS(vp_guest_keys) : 0;
    for (gsize i = 0; i < n_names + n_keys; i++) {
        const char *known = i < n_names ? names[i]
                                        : vp_guest_keys[i - n_names].name;
        guint d = vp_edit_distance(key, known, 2);
        if (d < best_d) {
            best = known;
            best_d = d;
            tie = FALSE;
        } else if (d == best_d) {
            tie = TRUE;
        }
    }
    return tie ? NULL : best;
}

/* ------------------------------------------------------------------ */
/* Values */

/* A value that must be one scalar: refuses collections (at the value) and
 * null or empty text (at the key, since an absent value has no place of
 * its own). */
static gboolean
vp_expect_scalar(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
                 const char *example, GError **error)
{
    if (value->kind != VP_Y_SCALAR) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes one value, not a mapping or a list; write it as '%1$s: %2$s'"),
                     key->text, example);
        return FALSE;
    }
    if (vp_y_is_null(value) || value->text[0] == '\0') {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' has no value; give one, such as '%1$s: %2$s', or remove the key"),
                     key->text, example);
        return FALSE;
    }
    return TRUE;
}

/* Text for a key that takes text: a number is taken as written (a pool
 * may be called 2024), a boolean is a mistake. */
static gboolean
vp_expect_text(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
               const char *example, GError **error)
{
    if (!vp_expect_scalar(ctx, key, value, example, error)) {
        return FALSE;
    }
    if (vp_y_bool(value) >= 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes a value such as '%2$s', not true or false; give one, or remove the key"),
                     key->text, example);
        return FALSE;
    }
    return TRUE;
}

static void
vp_invalid_value(GError **error, const VpLabCtx *ctx, const VpYNode *key,
                 const VpYNode *value, const char *hint)
{
    /* TRANSLATORS: %1$s is a manifest key such as vcpus, %2$s what was
     * given, %3$s what the key takes, such as "kvm or qemu" (translated on
     * its own). */
    vp_lab_error(error, ctx, value->line, value->column,
                 _("invalid '%1$s' value '%2$s'; use %3$s"), key->text,
                 value->text, _(hint));
}

/* Numbers and booleans are plain scalars: a quoted "3" is text, which
 * JSON and YAML readers alike keep apart from 3. */
static gboolean
vp_refuse_quoted(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
                 const char *hint, GError **error)
{
    if (value->kind == VP_Y_SCALAR && !value->plain) {
        /* TRANSLATORS: %3$s is what the key takes, as in "invalid '%1$s'
         * value '%2$s'; use %3$s". */
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'%1$s' takes %3$s, not the quoted text '%2$s'; remove the quotes"),
                     key->text, value->text, _(hint));
        return FALSE;
    }
    return TRUE;
}

/* A plain decimal number without sign or leading zero (YAML 1.1 reads
 * 010 as octal, 1.2 as ten: neither is allowed) in MIN..MAX. */
static gboolean
vp_parse_integer(const char *text, guint64 min, guint64 max, guint64 *out)
{
    if (text[0] == '0' && text[1] != '\0') {
        return FALSE;
    }
    return g_ascii_string_to_unsigned(text, 10, min, max, out, NULL) &&
           g_ascii_isdigit(text[0]);
}

static gboolean
vp_power_of_two(guint64 v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static gboolean
vp_network_valid(const char *text)
{
    return g_str_equal(text, "none") || g_str_equal(text, "user") ||
           (g_str_has_prefix(text, "network=") && text[8] != '\0') ||
           (g_str_has_prefix(text, "bridge=") && text[7] != '\0');
}

/* Validates VALUE for the provision key INFO.  *TEXT gets the value text
 * to record, or NULL for a flag given false (absent). */
static gboolean
vp_check_value(const VpLabCtx *ctx, const VpKeyInfo *info, const VpYNode *key,
               const VpYNode *value, char **text, GError **error)
{
    *text = NULL;
    if (!vp_expect_scalar(ctx, key, value, info->example, error)) {
        return FALSE;
    }
    const char *t = value->text;
    guint64 n = 0;
    switch (info->kind) {
    case VP_KEY_TEXT:
        if (!vp_expect_text(ctx, key, value, info->example, error)) {
            return FALSE;
        }
        break;
    case VP_KEY_SIZE: {
        GError *cause = NULL;
        if (!vp_size_parse(t, info->name, &n, &cause)) {
            vp_lab_locate(error, ctx, value->line, value->column, cause);
            return FALSE;
        }
        if ((info->max != 0 && (n < info->min || n > info->max)) ||
            (info->power_of_two && !vp_power_of_two(n))) {
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    }
    case VP_KEY_MEMORY: {
        /* As virt-install and provision: a bare number is MiB. */
        gsize len = strlen(t);
        g_autofree char *sized = g_ascii_isdigit(t[len - 1])
                                 ? g_strconcat(t, "M", NULL) : g_strdup(t);
        if (!vp_size_parse(sized, info->name, &n, NULL) ||
            n < (G_GUINT64_CONSTANT(16) << 20)) {
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    }
    case VP_KEY_INTEGER:
        if (!vp_refuse_quoted(ctx, key, value, info->hint, error)) {
            return FALSE;
        }
        if (!vp_parse_integer(t, info->min, info->max, &n) ||
            (info->power_of_two && !vp_power_of_two(n))) {
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    case VP_KEY_CHOICE:
        if (info->accepts != NULL ? !info->accepts(t)
                                  : !g_strv_contains(info->choices, t)) {
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    case VP_KEY_FLAG:
    case VP_KEY_WAIT:
        if (!vp_refuse_quoted(ctx, key, value, info->hint, error)) {
            return FALSE;
        }
        switch (vp_y_bool(value)) {
        case 1:
            *text = g_strdup("true");
            return TRUE;
        case 0:
            return TRUE;
        default:
            if (info->kind == VP_KEY_WAIT &&
                vp_parse_integer(t, info->min, info->max, &n)) {
                break;
            }
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    case VP_KEY_NETWORK:
        if (!vp_network_valid(t)) {
            vp_invalid_value(error, ctx, key, value, info->hint);
            return FALSE;
        }
        break;
    case VP_KEY_CLOUD_INIT:
        g_assert_not_reached();
    }
    *text = g_strdup(t);
    return TRUE;
}

/* A lab, host or guest name: it goes into volume and domain names and
 * into libvirt metadata, so letters, digits, '-', '_' and '.', starting
 * with a letter or digit (not '.', '..' or an option-like '-x'). */
static gboolean
vp_name_valid(const char *name)
{
    gsize len = strlen(name);
    if (len == 0 || len > VP_LAB_MAX_NAME || !g_ascii_isalnum(name[0])) {
        return FALSE;
    }
    for (gsize i = 0; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && strchr("-_.", name[i]) == NULL) {
            return FALSE;
        }
    }
    return TRUE;
}

typedef enum {
    VP_NAME_LAB,
    VP_NAME_HOST,
    VP_NAME_GUEST,
} VpNameRole;

static gboolean
vp_check_name(const VpLabCtx *ctx, const VpYNode *n, VpNameRole role,
              GError **error)
{
    if (vp_name_valid(n->text)) {
        return TRUE;
    }
    switch (role) {
    case VP_NAME_LAB:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("lab name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'lab: ci-42'"),
                     n->text);
        break;
    case VP_NAME_HOST:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("host name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'hv1'"),
                     n->text);
        break;
    case VP_NAME_GUEST:
        vp_lab_error(error, ctx, n->line, n->column,
                     _("guest name '%1$s' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit; rename it, such as 'name: web'"),
                     n->text);
        break;
    }
    return FALSE;
}

/* ------------------------------------------------------------------ */
/* cloud-init */

/* Opens PATH, a real path (vp_lab_file), for reading; O_NONBLOCK so that
 * a FIFO cannot hang us (it is then refused as no regular file), and
 * O_NOFOLLOW so that a symlink put in its place since it was resolved is
 * refused rather than followed out of the checked folder.  Returns the
 * descriptor, -1 with errno set when PATH cannot be opened, or
 * VP_NOT_REGULAR. */
#define VP_NOT_REGULAR (-2)
static int
vp_open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY |
                  O_NOFOLLOW);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return VP_NOT_REGULAR;
    }
    return fd;
}

/* Whether the real path REAL is beneath one of the folders of CTX. */
static gboolean
vp_lab_path_allowed(const VpLabCtx *ctx, const char *real)
{
    for (guint i = 0; i < ctx->roots->len; i++) {
        const char *root = g_ptr_array_index(ctx->roots, i);
        gsize n = strlen(root);
        /* "/" is its own prefix and separator. */
        if (strncmp(real, root, n) == 0 &&
            (real[n] == '/' || (n > 0 && root[n - 1] == '/'))) {
            return TRUE;
        }
    }
    return FALSE;
}

/* A file the tool reads on this machine, named by VALUE of KEY (a seed
 * file, or base when it is a path): resolved against the manifest's
 * directory, then by its real path beneath the manifest's folder or an
 * allowed one (a symlink counts where it leads), a readable regular file,
 * and with IMAGE a disk image (vp_source_identify).  The check is made
 * through the descriptor it opens, not a second lookup of the name.  *REAL
 * gets the real absolute path, which is what later code must read. */
static gboolean
vp_lab_file(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
            gboolean image, char **real, GError **error)
{
    g_autofree char *path = g_canonicalize_filename(value->text, ctx->dir);
    char *resolved = realpath(path, NULL);
    if (resolved == NULL) {
        int err = errno;
        vp_lab_error(error, ctx, value->line, value->column,
                     _("cannot read %1$s file '%2$s': %3$s; fix the path (a relative one starts at the manifest's directory)"),
                     key->text, path, g_strerror(err));
        return FALSE;
    }
    g_autofree char *rpath = g_strdup(resolved);
    free(resolved);
    if (!vp_lab_path_allowed(ctx, rpath)) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("%1$s '%2$s' resolves to '%3$s', outside the manifest's folder '%4$s'; move the file there, or allow its folder with --allow-path DIR"),
                     key->text, value->text, rpath, ctx->dir);
        return FALSE;
    }
    int fd = vp_open_regular(rpath);
    if (fd == VP_NOT_REGULAR) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("%1$s file '%2$s' is not a regular file; give a file"),
                     key->text, rpath);
        return FALSE;
    }
    if (fd < 0) {
        int err = errno;
        vp_lab_error(error, ctx, value->line, value->column,
                     _("cannot read %1$s file '%2$s': %3$s; fix the path (a relative one starts at the manifest's directory)"),
                     key->text, rpath, g_strerror(err));
        return FALSE;
    }
    struct stat st;
    const char *format = NULL;
    GError *cause = NULL;
    gboolean ok = !image ||
                  (fstat(fd, &st) == 0 &&
                   vp_source_identify(fd, (guint64)st.st_size, rpath, &format,
                                      &cause));
    int err = errno;
    close(fd);
    if (!ok && cause == NULL) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("cannot read %1$s file '%2$s': %3$s; fix the path (a relative one starts at the manifest's directory)"),
                     key->text, rpath, g_strerror(err));
        return FALSE;
    }
    if (!ok) {
        vp_lab_locate(error, ctx, value->line, value->column, cause);
        return FALSE;
    }
    *real = g_steal_pointer(&rpath);
    return TRUE;
}

/* The seed file of KEY named by VALUE (vp_lab_file). */
static gboolean
vp_seed_file(const VpLabCtx *ctx, const VpYNode *key, const VpYNode *value,
             char **slot, GError **error)
{
    return vp_expect_text(ctx, key, value, "./user-data", error) &&
           vp_lab_file(ctx, key, value, FALSE, slot, error);
}

/* cloud-init: true (a seed of the defaults), false (none: absent, or
 * removing the one of defaults) or a mapping of the seed's options.
 * *SEED is NULL for false. */
static gboolean
vp_parse_cloud_init(const VpLabCtx *ctx, const VpYNode *key,
                    const VpYNode *value, VpSeedOptions **seed, GError **error)
{
    *seed = NULL;
    if (value->kind == VP_Y_SCALAR) {
        int b = vp_y_bool(value);
        if (b >= 0) {
            *seed = b ? g_new0(VpSeedOptions, 1) : NULL;
            return TRUE;
        }
        if (vp_y_is_null(value)) {
            vp_lab_error(error, ctx, key->line, key->column,
                         _("'cloud-init' has no value; use true for a seed with your SSH keys, or a mapping such as {user-data: ./user-data}"));
            return FALSE;
        }
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'cloud-init' takes true or a mapping such as {user-data: ./user-data}; write it so"));
        return FALSE;
    }
    g_autoptr(VpSeedOptions) opts = g_new0(VpSeedOptions, 1);
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(value->items, i);
        const VpYNode *v = g_ptr_array_index(value->items, i + 1);
        char **slot = g_str_equal(k->text, "user-data") ? &opts->user_data
            : g_str_equal(k->text, "meta-data") ? &opts->meta_data
            : g_str_equal(k->text, "network-config") ? &opts->network_config
            : g_str_equal(k->text, "root-ssh-key") ? &opts->root_ssh_key
            : g_str_equal(k->text, "clouduser-ssh-key") ? &opts->clouduser_ssh_key
            : NULL;
        if (slot != NULL) {
            if (!vp_seed_file(ctx, k, v, slot, error)) {
                return FALSE;
            }
        } else if (g_str_equal(k->text, "disable")) {
            static const VpKeyInfo disable = {
                .name = "disable", .kind = VP_KEY_FLAG, .example = "true",
                .hint = N_("true or false"),
            };
            g_autofree char *text = NULL;
            if (!vp_check_value(ctx, &disable, k, v, &text, error)) {
                return FALSE;
            }
            opts->disable = text != NULL;
        } else {
            const char *hint = vp_suggest(k->text, vp_seed_keys, FALSE);
            if (hint != NULL) {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown cloud-init key '%1$s'; did you mean '%2$s'?"),
                             k->text, hint);
            } else {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown cloud-init key '%1$s'; use user-data, meta-data, network-config, root-ssh-key, clouduser-ssh-key or disable"),
                             k->text);
            }
            return FALSE;
        }
    }
    *seed = g_steal_pointer(&opts);
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Guests */

typedef struct {
    char *text; /* NULL: given as false, which removes a default */
    char *file; /* base given as a path: its real path (vp_lab_file) */
    guint line, column;
} VpOptValue;

static void
vp_opt_value_free(gpointer data)
{
    VpOptValue *v = data;
    g_free(v->text);
    g_free(v->file);
    g_free(v);
}

/* The provision keys of one guest entry or of defaults. */
typedef struct {
    GHashTable *values; /* key (static, from vp_guest_keys) -> VpOptValue */
    VpSeedOptions *seed; /* with values["cloud-init"] true; else NULL */
} VpKeySet;

static void
vp_key_set_clear(VpKeySet *s)
{
    g_clear_pointer(&s->values, g_hash_table_unref);
    g_clear_pointer(&s->seed, vp_seed_options_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpKeySet, vp_key_set_clear)

static void
vp_key_set_init(VpKeySet *s)
{
    s->values = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                      vp_opt_value_free);
    s->seed = NULL;
}

/* Refuses KEY, which is no provision key, with the most useful message. */
static void
vp_unknown_key(const VpLabCtx *ctx, const VpYNode *key, gboolean in_defaults,
               GError **error)
{
    if (g_strv_contains(vp_run_keys, key->text)) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' is about a run, not a guest, and has no place in a manifest; remove it"),
                     key->text);
        return;
    }
    if (in_defaults && g_strv_contains(vp_entry_keys, key->text)) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'%1$s' belongs to each guest, not to defaults; move it to the guests"),
                     key->text);
        return;
    }
    if (g_str_equal(key->text, "connect")) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("a guest names its host with 'host'; declare the host's URI under 'hosts'"));
        return;
    }
    const char *hint = vp_suggest(key->text, in_defaults ? NULL : vp_entry_keys,
                                  TRUE);
    if (hint != NULL) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s'; did you mean '%2$s'?"),
                     key->text, hint);
    } else if (in_defaults) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s' in defaults; use provision options by their long names without the dashes, such as 'disk-bus: sata'"),
                     key->text);
    } else {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("unknown key '%1$s'; a guest takes name, host, count and provision options by their long names without the dashes, such as 'disk-bus: sata'"),
                     key->text);
    }
}

/* Adds the provision key KEY: VALUE to SET; FALSE with an error for an
 * unknown key or a bad value. */
static gboolean
vp_key_set_add(const VpLabCtx *ctx, VpKeySet *set, const VpYNode *key,
               const VpYNode *value, gboolean in_defaults, GError **error)
{
    const VpKeyInfo *info = vp_key_info(key->text);
    if (info == NULL) {
        vp_unknown_key(ctx, key, in_defaults, error);
        return FALSE;
    }
    VpOptValue *v = g_new0(VpOptValue, 1);
    v->line = key->line;
    v->column = key->column;
    g_hash_table_insert(set->values, (gpointer)info->name, v);
    if (info->kind == VP_KEY_CLOUD_INIT) {
        if (!vp_parse_cloud_init(ctx, key, value, &set->seed, error)) {
            return FALSE;
        }
        v->text = set->seed != NULL ? g_strdup("true") : NULL;
        return TRUE;
    }
    if (!vp_check_value(ctx, info, key, value, &v->text, error)) {
        return FALSE;
    }
    /* A base that is a file here is read here: checked like a seed file,
     * and an image, before any host sees it. */
    if (g_str_equal(info->name, "base") && vp_lab_base_is_file(v->text)) {
        return vp_lab_file(ctx, key, value, TRUE, &v->file, error);
    }
    return TRUE;
}

static gboolean
vp_has(GHashTable *merged, const char *key)
{
    const VpOptValue *v = g_hash_table_lookup(merged, key);
    return v != NULL && v->text != NULL;
}

/* What provision itself would refuse about the combination of a guest's
 * keys (cmd-provision.c, provision-args.c), reported at the entry since
 * the keys may come from defaults. */
static gboolean
vp_check_combination(const VpLabCtx *ctx, const char *name, guint line,
                     guint column, GHashTable *merged, GError **error)
{
    static const char *const qcow2_only[] = { "cluster-size", "compat",
                                              "refcount-bits", "lazy-refcounts",
                                              "extended-l2", NULL };
    if (!vp_has(merged, "pool")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has no pool; add 'pool: default' to it or to defaults"),
                     name);
        return FALSE;
    }
    if (!vp_has(merged, "size") && !vp_has(merged, "base")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has neither size nor base; add 'size: 20G' or 'base: VOLUME' to it or to defaults"),
                     name);
        return FALSE;
    }
    if (vp_has(merged, "cdrom") + vp_has(merged, "kernel") +
        vp_has(merged, "import") > 1) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has more than one of cdrom, kernel and import; choose one way to install"),
                     name);
        return FALSE;
    }
    if ((vp_has(merged, "initrd") || vp_has(merged, "cmdline")) &&
        !vp_has(merged, "kernel")) {
        vp_lab_error(error, ctx, line, column,
                     _("guest '%1$s' has initrd or cmdline without kernel; add kernel or remove them"),
                     name);
        return FALSE;
    }
    const VpOptValue *format = g_hash_table_lookup(merged, "format");
    if (format != NULL && g_strcmp0(format->text, "raw") == 0) {
        for (gsize i = 0; qcow2_only[i] != NULL; i++) {
            if (vp_has(merged, qcow2_only[i])) {
                vp_lab_error(error, ctx, line, column,
                             _("guest '%1$s' has format raw, to which '%2$s' does not apply; remove it or use format qcow2"),
                             name, qcow2_only[i]);
                return FALSE;
            }
        }
    }
    return TRUE;
}

static void
vp_lab_guest_free(gpointer data)
{
    VpLabGuest *g = data;
    g_free(g->name);
    g_free(g->manifest_name);
    g_free(g->host);
    g_free(g->base_file);
    g_clear_pointer(&g->options, g_hash_table_unref);
    vp_seed_options_free(g->cloud_init);
    g_free(g);
}

static void
vp_lab_host_free(gpointer data)
{
    VpLabHost *h = data;
    g_free(h->name);
    g_free(h->uri);
    g_free(h);
}

/* Where a guest name was first used, for the duplicate message. */
typedef struct {
    guint line, column;
    gboolean counted; /* made by a count */
} VpNameSite;

typedef struct {
    const VpLabCtx *ctx;
    VpLab *lab;
    VpKeySet defaults;
    GHashTable *names; /* guest name -> VpNameSite (owned) */
} VpLabBuild;

/* Adds the guests of one entry of 'guests' to the lab. */
static gboolean
vp_parse_guest(VpLabBuild *b, const VpYNode *entry, GError **error)
{
    const VpLabCtx *ctx = b->ctx;
    if (entry->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, entry->line, entry->column,
                     _("a guest is a mapping with at least a name; write it as '- name: web'"));
        return FALSE;
    }
    g_auto(VpKeySet) own = { 0 };
    vp_key_set_init(&own);
    const VpYNode *name = NULL;
    const VpYNode *host = NULL;
    guint64 count = 0; /* 0: no count, the name stays as it is */
    const VpYNode *count_node = NULL;

    for (guint i = 0; i + 1 < entry->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(entry->items, i);
        const VpYNode *v = g_ptr_array_index(entry->items, i + 1);
        if (g_str_equal(k->text, "name")) {
            if (!vp_expect_text(ctx, k, v, "web", error) ||
                !vp_check_name(ctx, v, VP_NAME_GUEST, error)) {
                return FALSE;
            }
            name = v;
        } else if (g_str_equal(k->text, "host")) {
            if (!vp_expect_text(ctx, k, v, "hv1", error)) {
                return FALSE;
            }
            host = v;
        } else if (g_str_equal(k->text, "count")) {
            static const char *hint = N_("a whole number from 1 to 1000");
            if (!vp_expect_scalar(ctx, k, v, "3", error) ||
                !vp_refuse_quoted(ctx, k, v, hint, error)) {
                return FALSE;
            }
            if (!vp_parse_integer(v->text, 1, VP_LAB_MAX_COUNT, &count)) {
                vp_invalid_value(error, ctx, k, v, hint);
                return FALSE;
            }
            count_node = v;
        } else if (!vp_key_set_add(ctx, &own, k, v, FALSE, error)) {
            return FALSE;
        }
    }
    if (name == NULL) {
        vp_lab_error(error, ctx, entry->line, entry->column,
                     _("this guest has no name; add one, such as 'name: web'"));
        return FALSE;
    }
    if (host != NULL) {
        gboolean declared = FALSE;
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        for (guint i = 0; i < b->lab->hosts->len; i++) {
            const VpLabHost *h = g_ptr_array_index(b->lab->hosts, i);
            declared = declared || g_str_equal(h->name, host->text);
            g_ptr_array_add(names, h->name);
        }
        g_ptr_array_add(names, NULL);
        if (!declared) {
            g_autofree char *known = g_strjoinv(", ", (char **)names->pdata);
            vp_lab_error(error, ctx, host->line, host->column,
                         _("host '%1$s' is not declared under 'hosts'; declare it or use one of %2$s"),
                         host->text, known);
            return FALSE;
        }
    }

    /* defaults under the guest's own keys; a false of the guest removes a
     * default, and its cloud-init replaces the default one whole (seed
     * files do not combine key by key). */
    g_autoptr(GHashTable) merged = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, b->defaults.values);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_insert(merged, key, value);
    }
    g_hash_table_iter_init(&it, own.values);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_insert(merged, key, value);
    }
    const VpSeedOptions *seed = g_hash_table_contains(own.values, "cloud-init")
                                ? own.seed : b->defaults.seed;
    if (!vp_check_combination(ctx, name->text, entry->line, entry->column,
                              merged, error)) {
        return FALSE;
    }

    /* An explicit count expands even when it is 1, so that raising it
     * later does not rename the guest that exists. */
    guint n = count > 0 ? (guint)count : 1;
    if (count > 0) {
        g_autofree char *last = g_strdup_printf("%s-%u", name->text, n);
        if (strlen(last) > VP_LAB_MAX_NAME) {
            vp_lab_error(error, ctx, name->line, name->column,
                         _("guest name '%1$s' with its count makes '%2$s', longer than 64 characters; shorten the name"),
                         name->text, last);
            return FALSE;
        }
    }
    if (b->lab->guests->len + n > VP_LAB_MAX_GUESTS) {
        vp_lab_error(error, ctx, (count_node != NULL ? count_node : name)->line,
                     (count_node != NULL ? count_node : name)->column,
                     _("the lab has more than %1$u guests; split it into several labs"),
                     (guint)VP_LAB_MAX_GUESTS);
        return FALSE;
    }
    for (guint i = 1; i <= n; i++) {
        g_autofree char *gname = count > 0
                                 ? g_strdup_printf("%s-%u", name->text, i)
                                 : g_strdup(name->text);
        const VpNameSite *site = g_hash_table_lookup(b->names, gname);
        if (site != NULL) {
            if (site->counted || count > 0) {
                vp_lab_error(error, ctx, name->line, name->column,
                             _("guest name '%1$s' is already taken by the guest at line %2$u, column %3$u (a count of N names guests NAME-1 to NAME-N); rename one of them"),
                             gname, site->line, site->column);
            } else {
                vp_lab_error(error, ctx, name->line, name->column,
                             _("guest name '%1$s' is already taken by the guest at line %2$u, column %3$u; rename one of them"),
                             gname, site->line, site->column);
            }
            return FALSE;
        }
        VpNameSite *mine = g_new0(VpNameSite, 1);
        mine->line = entry->line;
        mine->column = entry->column;
        mine->counted = count > 0;
        g_hash_table_insert(b->names, g_strdup(gname), mine);

        VpLabGuest *g = g_new0(VpLabGuest, 1);
        g->name = g_steal_pointer(&gname);
        g->manifest_name = g_strdup(name->text);
        g->host = host != NULL ? g_strdup(host->text) : NULL;
        g->options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           g_free);
        g_hash_table_iter_init(&it, merged);
        while (g_hash_table_iter_next(&it, &key, &value)) {
            const VpOptValue *v = value;
            if (v->text != NULL && !g_str_equal(key, "cloud-init")) {
                g_hash_table_insert(g->options, g_strdup(key), g_strdup(v->text));
            }
        }
        const VpOptValue *base = g_hash_table_lookup(merged, "base");
        g->base_file = base != NULL ? g_strdup(base->file) : NULL;
        g->cloud_init = seed != NULL ? vp_seed_options_copy(seed) : NULL;
        g->line = entry->line;
        g->column = entry->column;
        g_ptr_array_add(b->lab->guests, g);
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* The top level */

static gboolean
vp_parse_hosts(const VpLabCtx *ctx, VpLab *lab, const VpYNode *key,
               const VpYNode *value, GError **error)
{
    if (vp_y_is_null(value)) {
        vp_lab_error(error, ctx, key->line, key->column,
                     _("'hosts' is empty; declare at least one, such as 'hv1: qemu:///system'"));
        return FALSE;
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'hosts' is a mapping of host names to libvirt URIs; write it as 'hv1: qemu+ssh://root@hv1.example/system'"));
        return FALSE;
    }
    if (value->items->len == 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'hosts' is empty; declare at least one, such as 'hv1: qemu:///system'"));
        return FALSE;
    }
    g_autoptr(GHashTable) uris = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(value->items, i);
        const VpYNode *v = g_ptr_array_index(value->items, i + 1);
        if (!vp_check_name(ctx, k, VP_NAME_HOST, error) ||
            !vp_expect_text(ctx, k, v, "qemu:///system", error)) {
            return FALSE;
        }
        /* libvirt parses the URI when it connects; a scheme at least
         * catches a host name or a path given in its place. */
        if (g_uri_peek_scheme(v->text) == NULL) {
            vp_lab_error(error, ctx, v->line, v->column,
                         _("host '%1$s' has '%2$s', which is not a libvirt URI; use one such as qemu+ssh://root@%1$s.example/system"),
                         k->text, v->text);
            return FALSE;
        }
        /* Checked before anything connects: a manifest may come from
         * someone else, and its URI must not run their program here. */
        GError *cause = NULL;
        if (!vp_uri_check(v->text, &cause)) {
            vp_lab_locate(error, ctx, v->line, v->column, cause);
            return FALSE;
        }
        /* Two names for one host would let placement count it twice. */
        const VpLabHost *same = g_hash_table_lookup(uris, v->text);
        if (same != NULL) {
            vp_lab_error(error, ctx, v->line, v->column,
                         _("hosts '%1$s' and '%2$s' have the same URI; declare each host once"),
                         same->name, k->text);
            return FALSE;
        }
        VpLabHost *h = g_new0(VpLabHost, 1);
        h->name = g_strdup(k->text);
        h->uri = g_strdup(v->text);
        h->line = k->line;
        h->column = k->column;
        g_ptr_array_add(lab->hosts, h);
        g_hash_table_insert(uris, h->uri, h);
    }
    return TRUE;
}

static gboolean
vp_parse_defaults(VpLabBuild *b, const VpYNode *value, GError **error)
{
    /* "defaults:" with nothing under it is no defaults. */
    if (vp_y_is_null(value)) {
        return TRUE;
    }
    if (value->kind != VP_Y_MAPPING) {
        vp_lab_error(error, b->ctx, value->line, value->column,
                     _("'defaults' is a mapping of guest keys; write it as 'pool: default' lines under it"));
        return FALSE;
    }
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        if (!vp_key_set_add(b->ctx, &b->defaults,
                            g_ptr_array_index(value->items, i),
                            g_ptr_array_index(value->items, i + 1), TRUE,
                            error)) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean vp_parse_top_key(VpLabBuild *b, gsize which, const VpYNode *k,
                                 const VpYNode *v, GError **error);

static gboolean
vp_parse_top(VpLabBuild *b, const VpYNode *root, GError **error)
{
    const VpLabCtx *ctx = b->ctx;
    if (root->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, root->line, root->column,
                     _("a lab manifest is a mapping of lab, hosts, defaults and guests; start it with 'lab: NAME'"));
        return FALSE;
    }
    const VpYNode *found[G_N_ELEMENTS(vp_top_keys)][2] = { { NULL } };
    for (guint i = 0; i + 1 < root->items->len; i += 2) {
        const VpYNode *k = g_ptr_array_index(root->items, i);
        gsize which = 0;
        while (vp_top_keys[which] != NULL &&
               !g_str_equal(vp_top_keys[which], k->text)) {
            which++;
        }
        if (vp_top_keys[which] == NULL) {
            const char *hint = vp_suggest(k->text, vp_top_keys, FALSE);
            if (hint != NULL) {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown key '%1$s'; did you mean '%2$s'?"),
                             k->text, hint);
            } else if (vp_key_info(k->text) != NULL) {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("'%1$s' is a guest key; put it under 'defaults' or under a guest"),
                             k->text);
            } else {
                vp_lab_error(error, ctx, k->line, k->column,
                             _("unknown key '%1$s'; a manifest has lab, hosts, defaults and guests"),
                             k->text);
            }
            return FALSE;
        }
        found[which][0] = k;
        found[which][1] = g_ptr_array_index(root->items, i + 1);
    }
    /* Each key in turn, so that problems are reported in the order of
     * the file where they can be; hosts before guests, which name them. */
    static const char *const examples[] = { "lab: ci-42",
                                            "hosts: {hv1: qemu:///system}",
                                            NULL, "guests: [{name: web}]" };
    for (gsize i = 0; vp_top_keys[i] != NULL; i++) {
        if (found[i][0] == NULL && examples[i] != NULL) {
            vp_lab_error(error, ctx, root->line, root->column,
                         _("the manifest has no '%1$s'; add it, such as '%2$s'"),
                         vp_top_keys[i], examples[i]);
            return FALSE;
        }
        if (found[i][0] != NULL && !vp_parse_top_key(b, i, found[i][0],
                                                     found[i][1], error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The value of the top-level key vp_top_keys[WHICH]. */
static gboolean
vp_parse_top_key(VpLabBuild *b, gsize which, const VpYNode *k,
                 const VpYNode *v, GError **error)
{
    const VpLabCtx *ctx = b->ctx;
    switch (which) {
    case 0:
        if (!vp_expect_text(ctx, k, v, "ci-42", error) ||
            !vp_check_name(ctx, v, VP_NAME_LAB, error)) {
            return FALSE;
        }
        b->lab->lab = g_strdup(v->text);
        return TRUE;
    case 1:
        return vp_parse_hosts(ctx, b->lab, k, v, error);
    case 2:
        return vp_parse_defaults(b, v, error);
    default:
        break;
    }
    if (vp_y_is_null(v) ||
        (v->kind == VP_Y_SEQUENCE && v->items->len == 0)) {
        vp_lab_error(error, ctx, k->line, k->column,
                     _("'guests' is empty; list at least one, such as '- name: web'"));
        return FALSE;
    }
    if (v->kind != VP_Y_SEQUENCE) {
        vp_lab_error(error, ctx, v->line, v->column,
                     _("'guests' is a list; write each guest as '- name: web'"));
        return FALSE;
    }
    for (guint i = 0; i < v->items->len; i++) {
        if (!vp_parse_guest(b, g_ptr_array_index(v->items, i), error)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Entry points */

void
vp_lab_free(VpLab *lab)
{
    if (lab == NULL) {
        return;
    }
    g_free(lab->lab);
    g_free(lab->path);
    g_clear_pointer(&lab->hosts, g_ptr_array_unref);
    g_clear_pointer(&lab->guests, g_ptr_array_unref);
    g_free(lab);
}

gboolean
vp_lab_base_is_file(const char *base)
{
    return base != NULL && (g_str_has_prefix(base, "/") ||
                            g_str_has_prefix(base, "./") ||
                            g_str_has_prefix(base, "../"));
}

/* The real path of the folder DIR into ROOTS.  A missing manifest folder
 * (a manifest parsed from memory) is no root; a missing --allow-path
 * folder is an error. */
static gboolean
vp_lab_add_root(GPtrArray *roots, const char *dir, gboolean allowed,
                GError **error)
{
    char *real = realpath(dir, NULL);
    struct stat st;
    int err = real == NULL ? errno
              : stat(real, &st) != 0 ? errno
              : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    if (err == 0) {
        g_ptr_array_add(roots, g_strdup(real));
    } else if (allowed) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("--allow-path: cannot use '%1$s': %2$s; give an existing folder"),
                    dir, g_strerror(err));
    }
    free(real);
    return err == 0 || !allowed;
}

VpLab *
vp_lab_parse(const char *text, gsize len, const char *path,
             const char *const *allowed, GError **error)
{
    g_return_val_if_fail(text != NULL || len == 0, NULL);
    g_return_val_if_fail(path != NULL, NULL);

    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *abs_dir = g_canonicalize_filename(dir, NULL);
    g_autoptr(GPtrArray) roots = g_ptr_array_new_with_free_func(g_free);
    VpLabCtx ctx = { .path = path, .dir = abs_dir, .roots = roots,
                     .text = text, .len = len };
    vp_lab_add_root(roots, abs_dir, FALSE, NULL);
    for (gsize i = 0; allowed != NULL && allowed[i] != NULL; i++) {
        if (!vp_lab_add_root(roots, allowed[i], TRUE, error)) {
            return NULL;
        }
    }

    if (len > VP_LAB_MAX_FILE) {
        g_autofree char *cap = vp_size_format(VP_LAB_MAX_FILE);
        vp_lab_error(error, &ctx, 1, 1,
                     _("the manifest is larger than the limit of %1$s; make it smaller, or split the lab"),
                     cap);
        return NULL;
    }
    g_autoptr(VpYNode) root = NULL;
    if (!vp_yaml_read(&ctx, text != NULL ? text : "", len, &root, error)) {
        return NULL;
    }
    if (root == NULL) {
        vp_lab_error(error, &ctx, 1, 1,
                     _("the manifest is empty; write a lab, its hosts and its guests (see the Labs section of the manual)"));
        return NULL;
    }

    g_autoptr(VpLab) lab = g_new0(VpLab, 1);
    lab->path = g_strdup(path);
    lab->hosts = g_ptr_array_new_with_free_func(vp_lab_host_free);
    lab->guests = g_ptr_array_new_with_free_func(vp_lab_guest_free);
    VpLabBuild b = {
        .ctx = &ctx,
        .lab = lab,
        .names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    vp_key_set_init(&b.defaults);
    gboolean ok = vp_parse_top(&b, root, error);
    vp_key_set_clear(&b.defaults);
    g_hash_table_unref(b.names);
    return ok ? g_steal_pointer(&lab) : NULL;
}

VpLab *
vp_lab_load(const char *path, const char *const *allowed, GError **error)
{
    gsize len = 0;
    gboolean too_big = FALSE;
    int err = 0;
    g_autofree char *text = vp_read_file_bounded(path, VP_LAB_MAX_FILE, &len,
                                            &too_big, &err);
    if (text == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot read lab manifest '%1$s': %2$s; check the path"),
                    path, g_strerror(err));
        return NULL;
    }
    /* vp_lab_parse() refuses the length with the same message; it never
     * sees more than one byte past the limit. */
    return vp_lab_parse(text, len, path, allowed, error);
}

const VpLabGuest *
vp_lab_find_guest(const VpLab *lab, const char *name)
{
    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *g = g_ptr_array_index(lab->guests, i);
        if (g_str_equal(g->name, name)) {
            return g;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Options hash */

/* Length-prefixed, so that no two different sequences of strings feed the
 * same bytes ("a" "bc" against "ab" "c"). */
static int
vp_compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
vp_hash_string(GChecksum *sum, const char *s)
{
    guint64 len = GUINT64_TO_LE((guint64)strlen(s));
    g_checksum_update(sum, (const guchar *)&len, sizeof(len));
    g_checksum_update(sum, (const guchar *)s, strlen(s));
}

/* Feeds the SHA-256 of the content of PATH (at most LIMIT bytes). */
static gboolean
vp_hash_file(GChecksum *sum, const char *what, const char *path, gsize limit,
             GError **error)
{
    int fd = vp_open_regular(path);
    if (fd == VP_NOT_REGULAR) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s file '%2$s' is not a regular file; give a file"),
                    what, path);
        return FALSE;
    }
    if (fd < 0) {
        int err = errno;
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot read %1$s file '%2$s': %3$s; fix the path"),
                    what, path, g_strerror(err));
        return FALSE;
    }
    g_autoptr(GChecksum) file = g_checksum_new(G_CHECKSUM_SHA256);
    guchar buf[65536];
    gsize total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("cannot read %1$s file '%2$s': %3$s; fix the path"),
                        what, path, g_strerror(err));
            return FALSE;
        }
        if (n == 0) {
            break;
        }
        total += (gsize)n;
        if (total > limit) {
            close(fd);
            g_autofree char *cap = vp_size_format(limit);
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("%1$s file '%2$s' is larger than the limit of %3$s; make it smaller"),
                        what, path, cap);
            return FALSE;
        }
        g_checksum_update(file, buf, (gsize)n);
    }
    close(fd);
    vp_hash_string(sum, g_checksum_get_string(file));
    return TRUE;
}

char *
vp_lab_guest_options_hash(const VpLabGuest *g, GError **error)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    /* A version tag: a change of this encoding must not look like drift
     * of every guest, so it changes with the encoding. */
    vp_hash_string(sum, "virt-provision lab options 1");

    guint n = 0;
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array(g->options, &n);
    qsort(keys, n, sizeof(*keys), vp_compare_keys);
    for (guint i = 0; i < n; i++) {
        vp_hash_string(sum, keys[i]);
        vp_hash_string(sum, g_hash_table_lookup(g->options, keys[i]));
    }
    if (g->cloud_init != NULL) {
        const VpSeedOptions *o = g->cloud_init;
        const struct {
            const char *key;
            const char *path;
            gsize limit;
        } files[] = {
            { "user-data", o->user_data, VP_SEED_MAX_FILE },
            { "meta-data", o->meta_data, VP_SEED_MAX_FILE },
            { "network-config", o->network_config, VP_SEED_MAX_FILE },
            { "root-ssh-key", o->root_ssh_key, VP_SEED_MAX_KEY_FILE },
            { "clouduser-ssh-key", o->clouduser_ssh_key, VP_SEED_MAX_KEY_FILE },
        };
        /* After the sorted options; no option key starts with \x01, so
         * this marker cannot be mistaken for one. */
        vp_hash_string(sum, "\x01cloud-init");
        for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
            vp_hash_string(sum, files[i].key);
            if (files[i].path == NULL) {
                vp_hash_string(sum, "-"); /* a digest is never "-" */
            } else if (!vp_hash_file(sum, files[i].key, files[i].path,
                                     files[i].limit, error)) {
                return NULL;
            }
        }
        vp_hash_string(sum, "disable");
        vp_hash_string(sum, o->disable ? "true" : "false");
    }
    return g_strdup(g_checksum_get_string(sum));
}
