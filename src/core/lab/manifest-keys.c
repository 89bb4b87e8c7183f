/* The schema of a lab manifest: the keys a guest (or defaults) may have,
 * VpKeyInfo and its table, and what each value must be; the names of
 * labs, hosts and guests; the suggestion for a mistyped key
 * (manifest-private.h).  A new provision option is added here. */
#include "manifest-private.h"

#include <string.h>

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "image-options.h"
#include "size.h"

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

struct VpKeyInfo {
    const char *name;
    VpKeyKind kind;
    const char *example;             /* a valid value, for messages */
    const char *hint;                /* N_(): what it takes, for messages */
    guint64 min, max;                /* INTEGER, SIZE (max 0: unbounded) */
    gboolean power_of_two;           /* INTEGER, SIZE */
    const char *const *choices;      /* CHOICE, NULL-terminated */
    gboolean (*accepts)(const char *); /* CHOICE, instead of CHOICES */
};

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
/* Keys of the mapping of cloud-init. */
static const char *const vp_seed_keys[] = { "user-data", "meta-data",
                                            "network-config", "root-ssh-key",
                                            "clouduser-ssh-key", "disable", NULL };

const VpKeyInfo *
vp_key_info(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_guest_keys); i++) {
        if (strcmp(vp_guest_keys[i].name, name) == 0) {
            return &vp_guest_keys[i];
        }
    }
    return NULL;
}

const char *
vp_key_name(const VpKeyInfo *info)
{
    return info->name;
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
const char *
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
gboolean
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
gboolean
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

void
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
gboolean
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
gboolean
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
gboolean
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

gboolean
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
/* Unknown keys */

/* Refuses KEY, which is no provision key, with the most useful message. */
void
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

/* ------------------------------------------------------------------ */
/* cloud-init */

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
gboolean
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
