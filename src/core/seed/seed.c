/* The NoCloud seed: options, validation, generated YAML and MIME, and the
 * ISO image, all in memory.  See seed.h for the contract. */
#include "seed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

/* libisofs carries its own copy of libburn's struct burn_source; we read
 * the image from it and never link libburn. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "error.h"
#include "read-file.h"
#include "size.h"
#include "yaml-util.h"

/* cloud-init's marker of a disabled instance (cloud-init's "Disable"
 * documentation); written by runcmd as an argument vector, no shell. */
#define VP_SEED_DISABLED_FILE "/etc/cloud/cloud-init.disabled"

/* How the generated part merges into the user's cloud-config.  cloud-init's
 * "Merging cloud-config" reference (doc/rtd/reference/merging.rst): a part
 * states its own mergers with merge_how; list(append) adds to the end of a
 * list, dict(no_replace) keeps a value already present, recurse_list lets a
 * dict merge the lists it holds.  Its cloud_config handler
 * (cloudinit/handlers/cloud_config.py, _merge_part) merges each part into
 * what came before with that part's mergers, defaulting to
 * dict(replace)+list()+str(), which would replace the user's
 * ssh_authorized_keys and runcmd; so the generated part, which comes second,
 * carries this string and appends to them instead. */
#define VP_SEED_MERGE_HOW "list(append)+dict(no_replace,recurse_list)+str()"

/* Fixed times of every node and volume descriptor: 2000-01-01 00:00:00 UTC,
 * so that the same seed is the same ISO, byte for byte, on every run. */
#define VP_SEED_EPOCH ((time_t)946684800)
#define VP_SEED_EPOCH_UUID "2000010100000000"

typedef enum {
    VP_USER_DATA_CLOUD_CONFIG,
    VP_USER_DATA_SCRIPT,
    VP_USER_DATA_INCLUDE,
    VP_USER_DATA_INCLUDE_ONCE,
    VP_USER_DATA_MULTIPART,
} VpUserDataKind;

/* MIME types cloud-init gives the same starts (cloud-init's "User data
 * formats" reference). */
static const char *const vp_user_data_types[] = {
    [VP_USER_DATA_CLOUD_CONFIG] = "text/cloud-config",
    [VP_USER_DATA_SCRIPT] = "text/x-shellscript",
    [VP_USER_DATA_INCLUDE] = "text/x-include-url",
    [VP_USER_DATA_INCLUDE_ONCE] = "text/x-include-once-url",
    [VP_USER_DATA_MULTIPART] = NULL, /* the file carries its own headers */
};

struct VpSeed {
    GBytes *user_data;
    GBytes *meta_data;
    GBytes *network_config; /* NULL when none */
};

/* An atomic reference-counted box (g_atomic_rc_box): a lab's threads
 * share one. */
struct VpSeedFiles {
    GBytes *user_data;      /* NULL: none given */
    VpUserDataKind kind;
    gboolean has_users;     /* the user's cloud-config has a users key */
    GBytes *meta_data;      /* NULL: none given */
    gboolean meta_complete; /* it has instance-id and local-hostname */
    /* An incomplete meta-data's tree (NULL: it holds no node), which each
     * seed copies to add what it lacks.  libfyaml documents are not for
     * use by several threads at once, copying included: META_LOCK. */
    struct fy_document *meta_doc;
    GMutex meta_lock;
    GBytes *network_config; /* NULL: none given */
    GPtrArray *root_keys;   /* key lines, may be empty */
    GPtrArray *user_keys;   /* the key file's, or ~/.ssh's; may be empty */
};

/* libfyaml's types are struct tags only; g_autoptr() wants type names. */

/* ------------------------------------------------------------------ */
/* Options */

void
vp_seed_options_clear(VpSeedOptions *opts)
{
    g_free(opts->user_data);
    g_free(opts->meta_data);
    g_free(opts->network_config);
    g_free(opts->root_ssh_key);
    g_free(opts->clouduser_ssh_key);
    g_clear_pointer(&opts->files, vp_seed_files_unref);
    *opts = (VpSeedOptions){ 0 };
}

VpSeedOptions *
vp_seed_options_copy(const VpSeedOptions *o)
{
    VpSeedOptions *c = g_new0(VpSeedOptions, 1);
    c->user_data = g_strdup(o->user_data);
    c->meta_data = g_strdup(o->meta_data);
    c->network_config = g_strdup(o->network_config);
    c->root_ssh_key = g_strdup(o->root_ssh_key);
    c->clouduser_ssh_key = g_strdup(o->clouduser_ssh_key);
    c->disable = o->disable;
    return c;
}

void
vp_seed_options_free(VpSeedOptions *opts)
{
    if (opts != NULL) {
        vp_seed_options_clear(opts);
        g_free(opts);
    }
}

gboolean
vp_seed_options_same_files(const VpSeedOptions *a, const VpSeedOptions *b)
{
    return g_strcmp0(a->user_data, b->user_data) == 0 &&
           g_strcmp0(a->meta_data, b->meta_data) == 0 &&
           g_strcmp0(a->network_config, b->network_config) == 0 &&
           g_strcmp0(a->root_ssh_key, b->root_ssh_key) == 0 &&
           g_strcmp0(a->clouduser_ssh_key, b->clouduser_ssh_key) == 0;
}

static gboolean
vp_seed_parse_switch(const char *value, gboolean *on)
{
    static const char *const yes[] = { "on", "yes", "true" };
    static const char *const no[] = { "off", "no", "false" };
    for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(value, yes[i]) == 0) {
            *on = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(value, no[i]) == 0) {
            *on = FALSE;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean
vp_seed_options_parse(const char *text, VpSeedOptions *opts, GError **error)
{
    g_auto(VpSeedOptions) parsed = { 0 };
    gboolean disable_seen = FALSE;

    if (text != NULL && *text != '\0') {
        g_auto(GStrv) items = g_strsplit(text, ",", -1);
        for (gsize i = 0; items[i] != NULL; i++) {
            const char *item = items[i];
            const char *eq = strchr(item, '=');
            if (*item == '\0') {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("empty seed option in '%1$s'; remove the extra comma"),
                            text);
                return FALSE;
            }
            g_autofree char *key = eq != NULL ? g_strndup(item, eq - item)
                                              : g_strdup(item);
            const char *value = eq != NULL ? eq + 1 : NULL;
            char **slot = NULL;
            if (strcmp(key, "user-data") == 0) {
                slot = &parsed.user_data;
            } else if (strcmp(key, "meta-data") == 0) {
                slot = &parsed.meta_data;
            } else if (strcmp(key, "network-config") == 0) {
                slot = &parsed.network_config;
            } else if (strcmp(key, "root-ssh-key") == 0) {
                slot = &parsed.root_ssh_key;
            } else if (strcmp(key, "clouduser-ssh-key") == 0) {
                slot = &parsed.clouduser_ssh_key;
            } else if (strcmp(key, "disable") != 0) {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("unknown seed option '%1$s'; use user-data, meta-data, network-config, root-ssh-key, clouduser-ssh-key or disable"),
                            key);
                return FALSE;
            }
            if ((slot != NULL && *slot != NULL) ||
                (slot == NULL && disable_seen)) {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("seed option '%1$s' is given twice; give it once"),
                            key);
                return FALSE;
            }
            if (value == NULL || *value == '\0') {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            slot != NULL
                            ? _("seed option '%1$s' needs a file name: %1$s=FILE")
                            : _("seed option '%1$s' needs a value: %1$s=on or %1$s=off"),
                            key);
                return FALSE;
            }
            if (slot != NULL) {
                *slot = g_strdup(value);
            } else if (!vp_seed_parse_switch(value, &parsed.disable)) {
                g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                            _("seed option disable='%1$s' is neither on nor off; use disable=on or disable=off"),
                            value);
                return FALSE;
            } else {
                disable_seen = TRUE;
            }
        }
    }
    vp_seed_options_clear(opts);
    *opts = parsed;
    parsed = (VpSeedOptions){ 0 };
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Reading files */

/* Reads PATH whole (vp_read_file_bounded: never more than LIMIT bytes)
 * and requires UTF-8 text; WHAT names the file's role in messages.
 * Returns the bytes, NUL-terminated for the parsers (the NUL is not
 * counted in *LEN). */
static char *
vp_seed_read(const char *path, const char *what, gsize limit, gsize *len,
             GError **error)
{
    gsize have = 0;
    gboolean too_big = FALSE;
    int err = 0;
    g_autofree char *buf = vp_read_file_bounded(path, limit, &have, &too_big,
                                                &err);

    if (buf == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot read %1$s '%2$s': %3$s"), what, path,
                    g_strerror(err));
        return NULL;
    }
    if (too_big) {
        g_autofree char *cap = vp_size_format(limit);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' is larger than the limit of %3$s; make it smaller"),
                    what, path, cap);
        return NULL;
    }
    /* g_utf8_validate_len() also refuses NUL bytes, which no YAML, script
     * or key file holds. */
    if (!g_utf8_validate_len(buf, have, NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' is not UTF-8 text; convert it to UTF-8"),
                    what, path);
        return NULL;
    }
    *len = have;
    return g_steal_pointer(&buf);
}

/* ------------------------------------------------------------------ */
/* YAML */

/* How deep a cloud-init file may nest mappings and lists: cloud-init's
 * schemas need fewer than ten levels, and libfyaml's document builder
 * refuses 64 with a message of its own. */
#define VP_SEED_MAX_DEPTH 32

static void
vp_yaml_invalid(const char *what, const char *path, char *diag,
                GError **error)
{
    guint line = 0;
    guint column = 0;
    const char *msg = diag != NULL ? vp_yaml_diag_split(diag, &line, &column)
                                   : "syntax error";
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("%1$s '%2$s' is not valid YAML: line %3$u, column %4$u: %5$s"),
                what, path, line, column, msg);
}

static void
vp_yaml_too_deep(const char *what, const char *path, guint line,
                 guint column, GError **error)
{
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("%1$s '%2$s' line %3$u, column %4$u: mappings and lists nest deeper than %5$u levels; flatten them"),
                what, path, line, column, (guint)VP_SEED_MAX_DEPTH);
}

typedef enum {
    VP_YAML_OK,
    VP_YAML_ANCHOR,
    VP_YAML_ALIAS,
    VP_YAML_DEEP,
} VpYamlRefusal;

/* What EV brings that a cloud-init file may not hold, with its position
 * in *LINE and *COLUMN; *DEPTH follows the open collections. */
static VpYamlRefusal
vp_yaml_refusal(const char *text, gsize len, struct fy_event *ev,
                guint *depth, guint *line, guint *column)
{
    struct fy_token *anchor = NULL;
    switch (ev->type) {
    case FYET_ALIAS:
        vp_yaml_mark_position(text, len, fy_event_start_mark(ev), line, column);
        return VP_YAML_ALIAS;
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START:
        (*depth)++;
        G_GNUC_FALLTHROUGH;
    case FYET_SCALAR:
        anchor = fy_event_get_anchor_token(ev);
        if (anchor != NULL) {
            vp_yaml_mark_position(text, len, fy_token_start_mark(anchor), line,
                                  column);
            return VP_YAML_ANCHOR;
        }
        if (*depth > VP_SEED_MAX_DEPTH) {
            vp_yaml_mark_position(text, len, fy_event_start_mark(ev), line,
                                  column);
            return VP_YAML_DEEP;
        }
        return VP_YAML_OK;
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END:
        (*depth)--;
        return VP_YAML_OK;
    default:
        return VP_YAML_OK;
    }
}

/* Reads TEXT as events, before any document is built from it, and counts
 * its documents into *DOCUMENTS.  Anchors and aliases are refused where
 * they appear: resolving a document copies what an alias names, so a few
 * hundred bytes of aliases of aliases cost gigabytes (cloud-init files
 * rarely use them, and the value can always be written out).  So is
 * nesting beyond VP_SEED_MAX_DEPTH, with our message rather than
 * libfyaml's. */
static gboolean
vp_yaml_scan(const char *text, gsize len, const char *what, const char *path,
             guint *documents, GError **error)
{
    /* Before libfyaml, whose scanner holds a deep flow collection whole;
     * the events of the prefix up to the bracket too deep are cheap and
     * place the refusal where block levels make it too deep already. */
    gsize deep_at = 0;
    guint deep_line = 0;
    guint deep_column = 0;
    gboolean deep = !vp_yaml_check_flow_depth(text, len, VP_SEED_MAX_DEPTH,
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
    VpYamlRefusal refusal = VP_YAML_OK;
    guint depth = 0;
    guint line = 0;
    guint column = 0;
    *documents = 0;
    for (struct fy_event *ev;
         refusal == VP_YAML_OK && (ev = fy_parser_parse(parser)) != NULL;) {
        if (ev->type == FYET_DOCUMENT_START) {
            (*documents)++;
        }
        refusal = vp_yaml_refusal(text, len, ev, &depth, &line, &column);
        fy_parser_event_free(parser, ev);
    }
    switch (refusal) {
    case VP_YAML_ANCHOR:
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' line %3$u, column %4$u: YAML anchors ('&name') are not allowed; write the value out instead"),
                    what, path, line, column);
        return FALSE;
    case VP_YAML_ALIAS:
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' line %3$u, column %4$u: YAML aliases ('*name') are not allowed; write the value out instead"),
                    what, path, line, column);
        return FALSE;
    case VP_YAML_DEEP:
        vp_yaml_too_deep(what, path, line, column, error);
        return FALSE;
    case VP_YAML_OK:
        break;
    }
    if (deep) {
        vp_yaml_too_deep(what, path, deep_line, deep_column, error);
        return FALSE;
    }
    if (first != NULL || fy_parser_get_stream_error(parser)) {
        vp_yaml_invalid(what, path, first, error);
        return FALSE;
    }
    return TRUE;
}

/* Parses TEXT, which must hold at most one YAML document, into *DOC:
 * NULL when it holds no node at all (empty, or only comments).  The
 * failure message names WHAT and PATH and what is wrong where. */
static gboolean
vp_yaml_parse(const char *text, gsize len, const char *what, const char *path,
              struct fy_document **doc, GError **error)
{
    guint documents = 0;
    if (!vp_yaml_scan(text, len, what, path, &documents, error)) {
        return FALSE;
    }
    /* fy_document_build_from_string() silently keeps only the first
     * document; cloud-init's yaml.safe_load() refuses a stream of
     * several. */
    if (documents > 1) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' holds %3$u YAML documents; keep one (no '---' between them)"),
                    what, path, documents);
        return FALSE;
    }
    /* Without anchors there is nothing to resolve.  The build still finds
     * what events cannot show, such as a key given twice. */
    g_autofree char *first = NULL;
    g_autoptr(VpFyDiag) diag = vp_yaml_diag_new(&first);
    const struct fy_parse_cfg pcfg = { .diag = diag };
    g_autoptr(VpFyDocument) parsed =
        fy_document_build_from_string(&pcfg, text, len);
    if (first != NULL) {
        vp_yaml_invalid(what, path, first, error);
        return FALSE;
    }
    if (parsed != NULL && fy_document_root(parsed) == NULL) {
        g_clear_pointer(&parsed, fy_document_destroy);
    }
    *doc = g_steal_pointer(&parsed);
    return TRUE;
}

/* As vp_yaml_parse(), and the document must be a mapping.  EMPTY_OK lets
 * a document without any node count as an empty mapping (*DOC NULL). */
static gboolean
vp_yaml_parse_mapping(const char *text, gsize len, const char *what,
                      const char *path, gboolean empty_ok,
                      struct fy_document **doc, GError **error)
{
    g_autoptr(VpFyDocument) parsed = NULL;
    if (!vp_yaml_parse(text, len, what, path, &parsed, error)) {
        return FALSE;
    }
    if (parsed == NULL ? !empty_ok
                       : !fy_node_is_mapping(fy_document_root(parsed))) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s '%2$s' is not a YAML mapping; write it as 'key: value' lines"),
                    what, path);
        return FALSE;
    }
    *doc = g_steal_pointer(&parsed);
    return TRUE;
}

/* The generated YAML goes through libfyaml's event emitter, every value a
 * double-quoted scalar: the library escapes quotes, backslashes, newlines
 * and control characters, and a quoted "123" or "true" stays a string for
 * cloud-init's YAML 1.1 loader.  (libfyaml 0.7's document API picks plain
 * style for created scalars such as "#x" or "- x" and emits them so that
 * they no longer read back; the event API with an explicit style does
 * not.  It does drop leading and trailing spaces, which vp_seed_load()
 * refuses up front.)  Keys are our own words, emitted plain. */
typedef struct {
    struct fy_emitter *emit;
    gboolean failed;
} VpYamlOut;

static void
vp_yaml_event(VpYamlOut *out, struct fy_event *event)
{
    if (event == NULL || fy_emit_event(out->emit, event) != 0) {
        out->failed = TRUE;
    }
}

static void
vp_yaml_begin(VpYamlOut *out)
{
    out->emit = fy_emit_to_string(FYECF_MODE_ORIGINAL | FYECF_WIDTH_INF |
                                  FYECF_INDENT_DEFAULT);
    if (out->emit == NULL) {
        g_error("libfyaml: out of memory");
    }
    out->failed = FALSE;
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_STREAM_START));
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_DOCUMENT_START,
                                            1, NULL, NULL));
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_MAPPING_START,
                                            FYNS_BLOCK, NULL, NULL));
}

static void
vp_yaml_key(VpYamlOut *out, const char *key)
{
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_SCALAR,
                                            FYSS_PLAIN, key, FY_NT, NULL, NULL));
}

static void
vp_yaml_string(VpYamlOut *out, const char *value)
{
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_SCALAR,
                                            FYSS_DOUBLE_QUOTED, value, FY_NT,
                                            NULL, NULL));
}

static void
vp_yaml_false(VpYamlOut *out)
{
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_SCALAR,
                                            FYSS_PLAIN, "false", FY_NT, NULL,
                                            NULL));
}

static void
vp_yaml_open(VpYamlOut *out, enum fy_event_type type)
{
    vp_yaml_event(out, fy_emit_event_create(out->emit, type, FYNS_BLOCK,
                                            NULL, NULL));
}

static void
vp_yaml_close(VpYamlOut *out, enum fy_event_type type)
{
    vp_yaml_event(out, fy_emit_event_create(out->emit, type));
}

static void
vp_yaml_string_list(VpYamlOut *out, GPtrArray *values)
{
    vp_yaml_open(out, FYET_SEQUENCE_START);
    for (guint i = 0; i < values->len; i++) {
        vp_yaml_string(out, g_ptr_array_index(values, i));
    }
    vp_yaml_close(out, FYET_SEQUENCE_END);
}

/* Ends the document and returns its text after HEADER (a first line such
 * as "#cloud-config\n", or ""). */
static char *
vp_yaml_end(VpYamlOut *out, const char *header)
{
    vp_yaml_close(out, FYET_MAPPING_END);
    vp_yaml_event(out, fy_emit_event_create(out->emit, FYET_DOCUMENT_END, 1));
    vp_yaml_close(out, FYET_STREAM_END);
    size_t size = 0;
    char *text = fy_emit_to_string_collect(out->emit, &size);
    g_clear_pointer(&out->emit, fy_emitter_destroy);
    /* The events are ours and well nested, and every value is valid UTF-8
     * (checked on input): a failure here is a bug, not bad input. */
    if (out->failed || text == NULL) {
        g_error("libfyaml failed to emit generated YAML");
    }
    char *result = g_strconcat(header, text, NULL);
    free(text);
    return result;
}

/* ------------------------------------------------------------------ */
/* SSH keys */

/* Whether LINE (trimmed, one line) is an OpenSSH public key: a known type,
 * then base64 whose decoded blob begins with the same type name (the wire
 * format of RFC 4253, section 6.6), then an optional comment. */
static gboolean
vp_ssh_key_line_valid(const char *line)
{
    const char *sp = line + strcspn(line, " \t");
    g_autofree char *type = g_strndup(line, sp - line);
    if (!(strcmp(type, "ssh-ed25519") == 0 || strcmp(type, "ssh-rsa") == 0 ||
          g_str_has_prefix(type, "ecdsa-sha2-") ||
          g_str_has_prefix(type, "sk-"))) {
        return FALSE;
    }
    const char *b64 = sp + strspn(sp, " \t");
    gsize b64_len = strcspn(b64, " \t");
    if (b64_len == 0 || b64_len % 4 != 0 ||
        strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789+/=") < b64_len) {
        return FALSE;
    }
    g_autofree char *copy = g_strndup(b64, b64_len);
    gsize blob_len = 0;
    g_autofree guchar *blob = g_base64_decode(copy, &blob_len);
    gsize type_len = strlen(type);
    if (blob_len < 4 + type_len) {
        return FALSE;
    }
    guint32 name_len = ((guint32)blob[0] << 24) | ((guint32)blob[1] << 16) |
                       ((guint32)blob[2] << 8) | blob[3];
    return name_len == type_len && memcmp(blob + 4, type, type_len) == 0;
}

/* Whether the key line LINE is an OpenSSH certificate ("TYPE-cert-v01@
 * openssh.com" types, PROTOCOL.certkeys): a signed key for ssh to present,
 * which authorized_keys does not list. */
static gboolean
vp_ssh_key_line_is_cert(const char *line)
{
    g_autofree char *type = g_strndup(line, strcspn(line, " \t"));
    return g_str_has_suffix(type, "-cert-v01@openssh.com");
}

/* Appends the key lines of the key file PATH to KEYS (trimmed; blank and
 * '#' lines skipped).  At least one key, and every other line a key.
 * FOUND_BY_US: the file is one of ~/.ssh's, where a certificate line is
 * skipped (it certifies a key that has its own file), and a file of
 * certificates only adds nothing; in a file the user names, it is an
 * error. */
static gboolean
vp_ssh_keys_read(const char *path, gboolean found_by_us, GPtrArray *keys,
                 GError **error)
{
    const char *what = _("SSH key file");
    gsize len = 0;
    g_autofree char *text = vp_seed_read(path, what, VP_SEED_MAX_KEY_FILE,
                                         &len, error);
    if (text == NULL) {
        return FALSE;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    guint found = 0;
    guint certs = 0;
    for (guint i = 0; lines[i] != NULL; i++) {
        char *line = g_strstrip(lines[i]);
        if (*line == '\0' || *line == '#') {
            continue;
        }
        if (g_str_has_prefix(line, "-----BEGIN")) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("SSH key file '%1$s' holds a private key; give the public key (the .pub file)"),
                        path);
            return FALSE;
        }
        if (vp_ssh_key_line_is_cert(line)) {
            if (found_by_us) {
                certs++;
                continue;
            }
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("SSH key file '%1$s' line %2$u is a certificate, which authorized_keys does not take; give the public key it certifies"),
                        path, i + 1);
            return FALSE;
        }
        if (!vp_ssh_key_line_valid(line)) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("SSH key file '%1$s' line %2$u is not an OpenSSH public key such as 'ssh-ed25519 AAAA... comment'; give a .pub file"),
                        path, i + 1);
            return FALSE;
        }
        g_ptr_array_add(keys, g_strdup(line));
        found++;
    }
    if (found == 0 && certs == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("SSH key file '%1$s' holds no public key; give a .pub file"),
                    path);
        return FALSE;
    }
    return TRUE;
}

static gint
vp_compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The invoking user's ~/.ssh/id_*.pub, in name order so that the seed does
 * not depend on directory order.  Certificates (id_*-cert.pub, which ssh
 * presents beside the key they certify) are skipped, as ssh-copy-id does:
 * the plain key of each is among the others. */
static gboolean
vp_ssh_keys_of_user(GPtrArray *keys, GError **error)
{
    g_autofree char *dir = g_build_filename(g_get_home_dir(), ".ssh", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; d != NULL && (name = g_dir_read_name(d)) != NULL;) {
        if (g_str_has_prefix(name, "id_") && g_str_has_suffix(name, ".pub") &&
            !g_str_has_suffix(name, "-cert.pub")) {
            g_ptr_array_add(names, g_build_filename(dir, name, NULL));
        }
    }
    g_ptr_array_sort(names, vp_compare_paths);
    for (guint i = 0; i < names->len; i++) {
        if (!vp_ssh_keys_read(g_ptr_array_index(names, i), TRUE, keys, error)) {
            return FALSE;
        }
    }
    if (keys->len == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("no SSH public key found in '%1$s' (id_*.pub) for the guest's default user; pass clouduser-ssh-key=FILE"),
                    dir);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* user-data */

/* The first line of TEXT, without its line end and trailing blanks. */
static char *
vp_first_line(const char *text)
{
    char *line = g_strndup(text, strcspn(text, "\n"));
    return g_strchomp(line);
}

/* Classifies the user's user-data by its start, as cloud-init does, and
 * checks what can be checked: a cloud-config must be one YAML mapping
 * (*HAS_USERS tells whether it has a users key), a MIME multipart needs
 * the MIME-Version header cloud-init looks for in its first 4096 bytes
 * (cloudinit/user_data.py, convert_string) or cloud-init would not read it
 * as MIME at all. */
static gboolean
vp_user_data_check(const char *text, gsize len, const char *path,
                   VpUserDataKind *kind, gboolean *has_users, GError **error)
{
    const char *what = "user-data";
    g_autofree char *first = vp_first_line(text);
    *has_users = FALSE;

    if (len == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("user-data '%1$s' is empty; begin it with '#cloud-config' or '#!'"),
                    path);
        return FALSE;
    }
    if (strcmp(first, "#cloud-config") == 0) {
        g_autoptr(VpFyDocument) doc = NULL;
        if (!vp_yaml_parse_mapping(text, len, what, path, FALSE, &doc, error)) {
            return FALSE;
        }
        *has_users = fy_node_mapping_lookup_by_string(fy_document_root(doc),
                                                      "users", FY_NT) != NULL;
        *kind = VP_USER_DATA_CLOUD_CONFIG;
        return TRUE;
    }
    if (g_str_has_prefix(first, "#!")) {
        *kind = VP_USER_DATA_SCRIPT;
        return TRUE;
    }
    if (g_str_has_prefix(first, "#include-once")) {
        *kind = VP_USER_DATA_INCLUDE_ONCE;
        return TRUE;
    }
    if (g_str_has_prefix(first, "#include")) {
        *kind = VP_USER_DATA_INCLUDE;
        return TRUE;
    }
    if (g_ascii_strncasecmp(first, "Content-Type:", 13) == 0 ||
        g_ascii_strncasecmp(first, "MIME-Version:", 13) == 0) {
        g_autofree char *head = g_ascii_strdown(text, MIN(len, 4096));
        /* The headers end at the first empty line. */
        char *end = strstr(head, "\n\n");
        char *end_crlf = strstr(head, "\r\n\r\n");
        if (end_crlf != NULL && (end == NULL || end_crlf < end)) {
            end = end_crlf;
        }
        if (end != NULL) {
            *end = '\0';
        }
        if (strstr(head, "content-type: multipart/") == NULL) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("user-data '%1$s' is MIME but not multipart; give a 'Content-Type: multipart/mixed' message or the part's own content"),
                        path);
            return FALSE;
        }
        if (strstr(head, "mime-version:") == NULL) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("user-data '%1$s' is a MIME multipart without a MIME-Version header, which cloud-init needs; add 'MIME-Version: 1.0'"),
                        path);
            return FALSE;
        }
        *kind = VP_USER_DATA_MULTIPART;
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("user-data '%1$s' is neither cloud-config nor a script; begin it with '#cloud-config', '#!' or '#include', or give a MIME multipart"),
                path);
    return FALSE;
}

/* The cloud-config we generate: the hostname only when it is the whole
 * user-data (with a user's file, meta-data's local-hostname names the
 * guest and the user's file may set its own), MERGE when it is a part
 * after the user's. */
typedef struct {
    const char *hostname;   /* NULL: leave it to the user's part */
    gboolean merge;         /* second part of a multipart: carry merge_how */
    gboolean keep_users;    /* the user's part has its own users list */
    GPtrArray *root_keys;   /* may be empty */
    GPtrArray *user_keys;   /* may be empty */
    gboolean disable;
} VpCloudConfig;

static char *
vp_cloud_config_emit(const VpCloudConfig *cc)
{
    VpYamlOut out;
    vp_yaml_begin(&out);
    if (cc->merge) {
        vp_yaml_key(&out, "merge_how");
        vp_yaml_string(&out, VP_SEED_MERGE_HOW);
    }
    if (cc->hostname != NULL) {
        vp_yaml_key(&out, "hostname");
        vp_yaml_string(&out, cc->hostname);
        vp_yaml_key(&out, "preserve_hostname");
        vp_yaml_false(&out);
    }
    if (cc->user_keys->len > 0) {
        vp_yaml_key(&out, "ssh_authorized_keys");
        vp_yaml_string_list(&out, cc->user_keys);
    }
    if (cc->root_keys->len > 0) {
        /* A users list without "default" would drop the distribution's
         * default user; unless the user's part lists its own users, keep
         * it first, as cloud-init's own default configuration does. */
        vp_yaml_key(&out, "users");
        vp_yaml_open(&out, FYET_SEQUENCE_START);
        if (!cc->keep_users) {
            vp_yaml_string(&out, "default");
        }
        vp_yaml_open(&out, FYET_MAPPING_START);
        vp_yaml_key(&out, "name");
        vp_yaml_string(&out, "root");
        vp_yaml_key(&out, "ssh_authorized_keys");
        vp_yaml_string_list(&out, cc->root_keys);
        vp_yaml_close(&out, FYET_MAPPING_END);
        vp_yaml_close(&out, FYET_SEQUENCE_END);
        vp_yaml_key(&out, "disable_root");
        vp_yaml_false(&out);
    }
    if (cc->disable) {
        /* An argument vector: cloud-init runs it without a shell. */
        vp_yaml_key(&out, "runcmd");
        vp_yaml_open(&out, FYET_SEQUENCE_START);
        /* Flow style, emitted in the style asked for (FYECF_MODE_ORIGINAL):
         * libfyaml 0.7 writes a block sequence nested right in another as a
         * broken mix of the two. */
        vp_yaml_event(&out, fy_emit_event_create(out.emit, FYET_SEQUENCE_START,
                                                 FYNS_FLOW, NULL, NULL));
        vp_yaml_string(&out, "touch");
        vp_yaml_string(&out, VP_SEED_DISABLED_FILE);
        vp_yaml_close(&out, FYET_SEQUENCE_END);
        vp_yaml_close(&out, FYET_SEQUENCE_END);
    }
    return vp_yaml_end(&out, "#cloud-config\n");
}

/* Appends a MIME part of TYPE holding TEXT in base64, lines of 76
 * characters (RFC 2045, 6.8).  base64 keeps the user's bytes exact (no
 * line end belongs to the boundary) and can never contain a boundary
 * line, which starts with "--". */
static void
vp_mime_add_part(GString *out, const char *boundary, const char *type,
                 const char *filename, const char *text, gsize len)
{
    g_autofree char *b64 = g_base64_encode((const guchar *)text, len);
    gsize b64_len = strlen(b64);
    g_string_append_printf(out,
                           "--%s\n"
                           "Content-Type: %s; charset=\"utf-8\"\n"
                           "MIME-Version: 1.0\n"
                           "Content-Transfer-Encoding: base64\n"
                           "Content-Disposition: attachment; filename=\"%s\"\n"
                           "\n",
                           boundary, type, filename);
    for (gsize at = 0; at < b64_len; at += 76) {
        g_string_append_len(out, b64 + at, MIN(76, b64_len - at));
        g_string_append_c(out, '\n');
    }
}

/* The user's file and ours as one multipart/mixed message, the user's
 * first.  A user's multipart goes in as it is (a nested multipart, which
 * cloud-init walks); its text must not contain our boundary, so the
 * boundary is the first of a fixed series that it does not contain. */
static char *
vp_mime_build(const char *user, gsize user_len, VpUserDataKind kind,
              const char *ours)
{
    g_autofree char *boundary = NULL;
    for (guint n = 0;; n++) {
        g_free(boundary);
        boundary = g_strdup_printf("==virt-provision-seed-%u==", n);
        g_autofree char *line = g_strconcat("--", boundary, NULL);
        if (strstr(user, line) == NULL) {
            break;
        }
    }
    GString *out = g_string_new(NULL);
    g_string_append_printf(out,
                           "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                           "MIME-Version: 1.0\n"
                           "\n",
                           boundary);
    if (kind == VP_USER_DATA_MULTIPART) {
        g_string_append_printf(out, "--%s\n", boundary);
        g_string_append_len(out, user, user_len);
        if (user_len > 0 && user[user_len - 1] != '\n') {
            g_string_append_c(out, '\n');
        }
    } else {
        vp_mime_add_part(out, boundary, vp_user_data_types[kind], "user-data",
                         user, user_len);
    }
    vp_mime_add_part(out, boundary, "text/cloud-config", "virt-provision.cfg",
                     ours, strlen(ours));
    g_string_append_printf(out, "--%s--\n", boundary);
    return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* meta-data */

static char *
vp_meta_data_emit(const char *instance_id, const char *hostname)
{
    VpYamlOut out;
    vp_yaml_begin(&out);
    if (instance_id != NULL) {
        vp_yaml_key(&out, "instance-id");
        vp_yaml_string(&out, instance_id);
    }
    if (hostname != NULL) {
        vp_yaml_key(&out, "local-hostname");
        vp_yaml_string(&out, hostname);
    }
    return vp_yaml_end(&out, "");
}

/* The user's meta-data DOC (NULL: it held nothing) with instance-id and
 * local-hostname added where missing; NULL when nothing is missing, so
 * that the user's file is kept byte for byte. */
static char *
vp_meta_data_complete(struct fy_document *doc, const char *instance_id,
                      const char *hostname)
{
    if (doc == NULL) {
        return vp_meta_data_emit(instance_id, hostname);
    }
    struct fy_node *root = fy_document_root(doc);
    gboolean has_id =
        fy_node_mapping_lookup_by_string(root, "instance-id", FY_NT) != NULL;
    gboolean has_name =
        fy_node_mapping_lookup_by_string(root, "local-hostname", FY_NT) != NULL;
    if (has_id && has_name) {
        return NULL;
    }
    /* The added pairs are emitted as events (escaped by the library), read
     * back, and copied into the user's document, which the emitter then
     * writes in the styles the user's scalars came with. */
    g_autofree char *added = vp_meta_data_emit(has_id ? NULL : instance_id,
                                               has_name ? NULL : hostname);
    g_autoptr(VpFyDocument) extra =
        fy_document_build_from_string(NULL, added, strlen(added));
    if (extra == NULL) {
        g_error("libfyaml cannot read its own meta-data");
    }
    struct fy_node *extra_root = fy_document_root(extra);
    for (int i = 0; i < fy_node_mapping_item_count(extra_root); i++) {
        struct fy_node_pair *pair = fy_node_mapping_get_by_index(extra_root, i);
        struct fy_node *key = fy_node_copy(doc, fy_node_pair_key(pair));
        struct fy_node *value = fy_node_copy(doc, fy_node_pair_value(pair));
        if (key == NULL || value == NULL ||
            fy_node_mapping_append(root, key, value) != 0) {
            g_error("libfyaml: out of memory");
        }
    }
    char *text = fy_emit_document_to_string(doc, FYECF_DEFAULT);
    if (text == NULL) {
        g_error("libfyaml failed to emit meta-data");
    }
    char *result = g_strdup(text);
    free(text);
    return result;
}

/* ------------------------------------------------------------------ */
/* Loading */

void
vp_seed_free(VpSeed *seed)
{
    if (seed == NULL) {
        return;
    }
    g_clear_pointer(&seed->user_data, g_bytes_unref);
    g_clear_pointer(&seed->meta_data, g_bytes_unref);
    g_clear_pointer(&seed->network_config, g_bytes_unref);
    g_free(seed);
}

GBytes *
vp_seed_get_user_data(const VpSeed *seed)
{
    return seed->user_data;
}

GBytes *
vp_seed_get_meta_data(const VpSeed *seed)
{
    return seed->meta_data;
}

GBytes *
vp_seed_get_network_config(const VpSeed *seed)
{
    return seed->network_config;
}

/* HOSTNAME and INSTANCE_ID are data wherever they go, but they must be
 * text, and libfyaml's emitter drops leading and trailing spaces.  WHAT is
 * the meta-data key they become, not translated. */
static gboolean
vp_seed_check_name(const char *value, const char *what, GError **error)
{
    if (value == NULL || *value == '\0') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s is empty; give a non-empty value"),
                    what);
        return FALSE;
    }
    if (!g_utf8_validate(value, -1, NULL)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s is not UTF-8 text; give a UTF-8 value"),
                    what);
        return FALSE;
    }
    gsize len = strlen(value);
    if (value[0] == ' ' || value[len - 1] == ' ') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("the seed's %1$s '%2$s' begins or ends with a space; remove it"),
                    what, value);
        return FALSE;
    }
    return TRUE;
}

static void
vp_seed_files_clear(gpointer data)
{
    VpSeedFiles *files = data;
    g_clear_pointer(&files->user_data, g_bytes_unref);
    g_clear_pointer(&files->meta_data, g_bytes_unref);
    g_clear_pointer(&files->meta_doc, fy_document_destroy);
    g_mutex_clear(&files->meta_lock);
    g_clear_pointer(&files->network_config, g_bytes_unref);
    g_clear_pointer(&files->root_keys, g_ptr_array_unref);
    g_clear_pointer(&files->user_keys, g_ptr_array_unref);
}

VpSeedFiles *
vp_seed_files_ref(VpSeedFiles *files)
{
    return g_atomic_rc_box_acquire(files);
}

void
vp_seed_files_unref(VpSeedFiles *files)
{
    if (files != NULL) {
        g_atomic_rc_box_release_full(files, vp_seed_files_clear);
    }
}

/* Reads PATH (a YAML mapping, WHAT in messages) into bytes; *DOC gets its
 * tree (NULL when it holds no node, which EMPTY_OK allows). */
static GBytes *
vp_seed_read_mapping(const char *path, const char *what, gboolean empty_ok,
                     struct fy_document **doc, GError **error)
{
    gsize len = 0;
    g_autofree char *text = vp_seed_read(path, what, VP_SEED_MAX_FILE, &len,
                                         error);
    if (text == NULL ||
        !vp_yaml_parse_mapping(text, len, what, path, empty_ok, doc, error)) {
        return NULL;
    }
    return g_bytes_new_take(g_steal_pointer(&text), len);
}

VpSeedFiles *
vp_seed_files_load(const VpSeedOptions *opts, GError **error)
{
    g_autoptr(VpSeedFiles) files = g_atomic_rc_box_new0(VpSeedFiles);
    g_mutex_init(&files->meta_lock);
    files->root_keys = g_ptr_array_new_with_free_func(g_free);
    files->user_keys = g_ptr_array_new_with_free_func(g_free);
    if ((opts->root_ssh_key != NULL &&
         !vp_ssh_keys_read(opts->root_ssh_key, FALSE, files->root_keys,
                           error)) ||
        (opts->clouduser_ssh_key != NULL &&
         !vp_ssh_keys_read(opts->clouduser_ssh_key, FALSE, files->user_keys,
                           error))) {
        return NULL;
    }

    if (opts->meta_data != NULL) {
        g_autoptr(VpFyDocument) doc = NULL;
        files->meta_data = vp_seed_read_mapping(opts->meta_data, "meta-data",
                                                TRUE, &doc, error);
        if (files->meta_data == NULL) {
            return NULL;
        }
        struct fy_node *root = doc != NULL ? fy_document_root(doc) : NULL;
        files->meta_complete =
            root != NULL &&
            fy_node_mapping_lookup_by_string(root, "instance-id", FY_NT) != NULL &&
            fy_node_mapping_lookup_by_string(root, "local-hostname", FY_NT) != NULL;
        if (!files->meta_complete) {
            files->meta_doc = g_steal_pointer(&doc);
        }
    }

    /* network-config, kept as the user wrote it */
    if (opts->network_config != NULL) {
        g_autoptr(VpFyDocument) doc = NULL;
        files->network_config = vp_seed_read_mapping(opts->network_config,
                                                     "network-config", FALSE,
                                                     &doc, error);
        if (files->network_config == NULL) {
            return NULL;
        }
    }

    if (opts->user_data != NULL) {
        gsize len = 0;
        g_autofree char *text = vp_seed_read(opts->user_data, "user-data",
                                             VP_SEED_MAX_FILE, &len, error);
        if (text == NULL ||
            !vp_user_data_check(text, len, opts->user_data, &files->kind,
                                &files->has_users, error)) {
            return NULL;
        }
        files->user_data = g_bytes_new_take(g_steal_pointer(&text), len);
    } else if (opts->root_ssh_key == NULL && opts->clouduser_ssh_key == NULL &&
               !vp_ssh_keys_of_user(files->user_keys, error)) {
        return NULL;
    }
    return g_steal_pointer(&files);
}

/* The seed's meta-data: the user's file as it is, or completed with this
 * guest's instance-id and local-hostname where it lacks them. */
static GBytes *
vp_seed_meta_data(VpSeedFiles *files, const char *instance_id,
                  const char *hostname)
{
    if (files->meta_data != NULL && files->meta_complete) {
        return g_bytes_ref(files->meta_data);
    }
    g_autoptr(VpFyDocument) doc = NULL;
    if (files->meta_doc != NULL) {
        g_mutex_lock(&files->meta_lock);
        doc = fy_document_clone(files->meta_doc);
        g_mutex_unlock(&files->meta_lock);
        if (doc == NULL) {
            g_error("libfyaml: out of memory");
        }
    }
    char *meta = vp_meta_data_complete(doc, instance_id, hostname);
    return g_bytes_new_take(meta, strlen(meta));
}

VpSeed *
vp_seed_load(const VpSeedOptions *opts, const char *hostname,
             const char *instance_id, GError **error)
{
    if (!vp_seed_check_name(hostname, "local-hostname", error) ||
        !vp_seed_check_name(instance_id, "instance-id", error)) {
        return NULL;
    }
    g_autoptr(VpSeedFiles) own = NULL;
    VpSeedFiles *files = opts->files;
    if (files == NULL) {
        own = vp_seed_files_load(opts, error);
        if (own == NULL) {
            return NULL;
        }
        files = own;
    }

    g_autoptr(VpSeed) seed = g_new0(VpSeed, 1);
    seed->meta_data = vp_seed_meta_data(files, instance_id, hostname);
    if (files->network_config != NULL) {
        seed->network_config = g_bytes_ref(files->network_config);
    }

    VpCloudConfig cc = {
        .root_keys = files->root_keys,
        .user_keys = files->user_keys,
        .keep_users = files->has_users,
        .disable = opts->disable,
    };
    g_autofree char *user_data = NULL;
    if (files->user_data == NULL) {
        cc.hostname = hostname;
        user_data = vp_cloud_config_emit(&cc);
    } else if (files->root_keys->len == 0 && files->user_keys->len == 0 &&
               !opts->disable) {
        seed->user_data = g_bytes_ref(files->user_data);
        return g_steal_pointer(&seed);
    } else {
        cc.merge = TRUE;
        g_autofree char *ours = vp_cloud_config_emit(&cc);
        gsize len = 0;
        /* NUL-terminated: the bytes of vp_seed_read(). */
        const char *text = g_bytes_get_data(files->user_data, &len);
        user_data = vp_mime_build(text, len, files->kind, ours);
    }
    gsize user_len = strlen(user_data);
    seed->user_data = g_bytes_new_take(g_steal_pointer(&user_data), user_len);
    return g_steal_pointer(&seed);
}

/* ------------------------------------------------------------------ */
/* The ISO image */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoImage, iso_image_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoWriteOpts, iso_write_opts_free)

static gboolean
vp_iso_failed(int ret, GError **error)
{
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("cannot build the seed image: %1$s"), iso_error_to_msg(ret));
    return FALSE;
}

static gpointer
vp_iso_init_once(gpointer data)
{
    int ret = iso_init();
    if (ret >= 0) {
        /* libisofs prints to stderr by default; we report through GError. */
        iso_set_msgs_severities("NEVER", "NEVER", "libisofs");
    }
    return GINT_TO_POINTER(ret);
}

/* Adds NAME holding BYTES to DIR: mode, owner and times fixed. */
static gboolean
vp_iso_add(IsoImage *image, IsoDir *dir, const char *name, GBytes *bytes,
           GError **error)
{
    gsize len = 0;
    const void *data = g_bytes_get_data(bytes, &len);
    /* libisofs frees the buffer with free(). */
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        g_error("out of memory");
    }
    memcpy(copy, data, len);
    IsoStream *stream = NULL;
    int ret = iso_memory_stream_new(copy, len, &stream);
    if (ret < 0) {
        free(copy);
        return vp_iso_failed(ret, error);
    }
    IsoFile *file = NULL;
    /* The new file takes over our reference to the stream. */
    ret = iso_image_add_new_file(image, dir, name, stream, &file);
    if (ret < 0) {
        iso_stream_unref(stream);
        return vp_iso_failed(ret, error);
    }
    IsoNode *node = (IsoNode *)file;
    iso_node_set_permissions(node, 0444);
    iso_node_set_uid(node, 0);
    iso_node_set_gid(node, 0);
    iso_node_set_atime(node, VP_SEED_EPOCH);
    iso_node_set_mtime(node, VP_SEED_EPOCH);
    iso_node_set_ctime(node, VP_SEED_EPOCH);
    return TRUE;
}

GBytes *
vp_seed_iso(const VpSeed *seed, GError **error)
{
    static GOnce init = G_ONCE_INIT;
    /* One image at a time: libisofs keeps process-wide state (its message
     * queue, the image's writer thread) and a lab builds seeds from several
     * threads.  An image takes milliseconds. */
    static GMutex lock;
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&lock);
    int ret = GPOINTER_TO_INT(g_once(&init, vp_iso_init_once, NULL));
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }

    g_autoptr(IsoImage) image = NULL;
    ret = iso_image_new("cidata", &image);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    iso_image_set_volume_id(image, "cidata");
    IsoDir *root = iso_image_get_root(image);
    IsoNode *root_node = (IsoNode *)root;
    iso_node_set_permissions(root_node, 0555);
    iso_node_set_uid(root_node, 0);
    iso_node_set_gid(root_node, 0);
    iso_node_set_atime(root_node, VP_SEED_EPOCH);
    iso_node_set_mtime(root_node, VP_SEED_EPOCH);
    iso_node_set_ctime(root_node, VP_SEED_EPOCH);
    if (!vp_iso_add(image, root, "user-data", seed->user_data, error) ||
        !vp_iso_add(image, root, "meta-data", seed->meta_data, error) ||
        (seed->network_config != NULL &&
         !vp_iso_add(image, root, "network-config", seed->network_config, error))) {
        return NULL;
    }

    /* Profile 2: Rock Ridge and Joliet, as cloud-init needs one of them to
     * find "user-data" (plain ISO 9660 names are USER_DAT.;1).  Its
     * defaults stamp the recording time; fix every time instead. */
    g_autoptr(IsoWriteOpts) wopts = NULL;
    ret = iso_write_opts_new(&wopts, 2);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    /* ISO 9660 proper allows only upper case in the volume id; keep the
     * "cidata" that genisoimage -V and cloud-init's documentation write
     * (cloud-init looks for either case). */
    iso_write_opts_set_relaxed_vol_atts(wopts, 1);
    /* Joliet names exactly "user-data", not "user-data.;1": no forced dot
     * and no version number there (plain ISO 9660 names keep both, as that
     * standard wants). */
    iso_write_opts_set_omit_version_numbers(wopts, 2);
    iso_write_opts_set_no_force_dots(wopts, 2);
    iso_write_opts_set_replace_timestamps(wopts, 2);
    iso_write_opts_set_default_timestamp(wopts, VP_SEED_EPOCH);
    iso_write_opts_set_always_gmt(wopts, 1);
    iso_write_opts_set_pvd_times(wopts, VP_SEED_EPOCH, VP_SEED_EPOCH, 0, 0,
                                 (char *)VP_SEED_EPOCH_UUID);

    struct burn_source *src = NULL;
    ret = iso_image_create_burn_source(image, wopts, &src);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    /* The size is known before the first byte; the seed files are capped,
     * so it is a few MiB at most. */
    off_t size = src->get_size(src);
    g_autoptr(GByteArray) iso = g_byte_array_sized_new(size > 0 ? (guint)size : 0);
    guchar block[2048];
    int n;
    while ((n = src->read_xt(src, block, sizeof(block))) > 0) {
        g_byte_array_append(iso, block, (guint)n);
    }
    src->free_data(src);
    free(src);
    if (n < 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot build the seed image: libisofs failed while writing it"));
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&iso));
}
