/* user-data and meta-data of the seed (seed-private.h): the user's files
 * checked as cloud-init reads them (YAML without anchors or aliases, one
 * document, a mapping where one is needed; user-data by its start), and
 * ours generated (YAML through libfyaml's emitter, MIME multipart). */
#include "seed-private.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "read-file.h"
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

/* MIME types cloud-init gives the same starts (cloud-init's "User data
 * formats" reference). */
static const char *const vp_user_data_types[] = {
    [VP_USER_DATA_CLOUD_CONFIG] = "text/cloud-config",
    [VP_USER_DATA_SCRIPT] = "text/x-shellscript",
    [VP_USER_DATA_INCLUDE] = "text/x-include-url",
    [VP_USER_DATA_INCLUDE_ONCE] = "text/x-include-once-url",
    [VP_USER_DATA_MULTIPART] = NULL, /* the file carries its own headers */
};

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
    /* A text nesting flow collections too deep is read up to the bracket
     * too deep, where block levels may make it too deep already. */
    g_auto(VpYamlReader) y = { 0 };
    vp_yaml_reader_open(&y, text, len, VP_SEED_MAX_DEPTH);
    VpYamlRefusal refusal = VP_YAML_OK;
    guint depth = 0;
    guint line = 0;
    guint column = 0;
    *documents = 0;
    for (struct fy_event *ev;
         refusal == VP_YAML_OK && (ev = fy_parser_parse(y.parser)) != NULL;) {
        if (ev->type == FYET_DOCUMENT_START) {
            (*documents)++;
        }
        refusal = vp_yaml_refusal(text, len, ev, &depth, &line, &column);
        fy_parser_event_free(y.parser, ev);
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
    if (y.deep) {
        vp_yaml_too_deep(what, path, y.deep_line, y.deep_column, error);
        return FALSE;
    }
    if (y.first != NULL || fy_parser_get_stream_error(y.parser)) {
        vp_yaml_invalid(what, path, y.first, error);
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

/* Reads PATH (a YAML mapping, WHAT in messages) into bytes; *DOC gets its
 * tree (NULL when it holds no node, which EMPTY_OK allows). */
GBytes *
vp_seed_read_mapping(const char *path, const char *what, gboolean empty_ok,
                     struct fy_document **doc, GError **error)
{
    gsize len = 0;
    g_autofree char *text = vp_read_text_file(path, what, VP_SEED_MAX_FILE,
                                              &len, error);
    if (text == NULL ||
        !vp_yaml_parse_mapping(text, len, what, path, empty_ok, doc, error)) {
        return NULL;
    }
    return g_bytes_new_take(g_steal_pointer(&text), len);
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
gboolean
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

char *
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
char *
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
char *
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
