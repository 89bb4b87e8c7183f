/* See uri.h.  The query is split as libvirt's virURIParseParams splits it,
 * or finer: a name libvirt reads is then always one of ours. */
#include "uri.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"

/* Whether the transports of SCHEME (the parts after the first '+') name
 * ext.  libvirt takes the text after the first '+' whole and lowercases it;
 * every part is checked, which is the same or stricter. */
static gboolean
vp_uri_scheme_is_ext(const char *scheme)
{
    const char *plus = strchr(scheme, '+');
    if (plus == NULL) {
        return FALSE;
    }
    g_auto(GStrv) parts = g_strsplit(plus + 1, "+", -1);
    for (guint i = 0; parts[i] != NULL; i++) {
        if (g_ascii_strcasecmp(parts[i], "ext") == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* The name of one query parameter (LEN bytes at TEXT, up to its '='),
 * percent-decoded once as libxml2's xmlURIUnescapeString does.  Decoding
 * stops at a decoded NUL, where libvirt's C string comparison stops. */
static char *
vp_uri_param_name(const char *text, gsize len)
{
    GString *out = g_string_sized_new(len);
    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        if (c == '%' && i + 2 < len && g_ascii_isxdigit(text[i + 1]) &&
            g_ascii_isxdigit(text[i + 2])) {
            c = (char)(g_ascii_xdigit_value(text[i + 1]) * 16 +
                       g_ascii_xdigit_value(text[i + 2]));
            i += 2;
        }
        if (c == '\0') {
            break;
        }
        g_string_append_c(out, c);
    }
    return g_string_free(out, FALSE);
}

/* Whether the query of URI has a parameter named "command". */
static gboolean
vp_uri_has_command(const char *uri)
{
    const char *query = strchr(uri, '?');
    if (query == NULL) {
        return FALSE;
    }
    query++;
    /* The fragment is no part of the query.  A '#' before the '?' makes
     * this read a fragment as a query, which can only refuse more. */
    gsize query_len = strcspn(query, "#");
    const char *end = query + query_len;
    for (const char *p = query; p < end;) {
        gsize seg = strcspn(p, "&;#");
        if (p + seg > end) {
            seg = (gsize)(end - p);
        }
        const char *eq = memchr(p, '=', seg);
        g_autofree char *name = vp_uri_param_name(p, eq != NULL ? (gsize)(eq - p)
                                                                : seg);
        if (g_ascii_strcasecmp(name, "command") == 0) {
            return TRUE;
        }
        p += seg + 1;
    }
    return FALSE;
}

gboolean
vp_uri_check(const char *uri, GError **error)
{
    g_return_val_if_fail(uri != NULL, FALSE);

    const char *scheme = g_uri_peek_scheme(uri);
    if (scheme != NULL && vp_uri_scheme_is_ext(scheme)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("URI '%1$s' uses the ext transport, which runs a command on this machine; use another transport, such as qemu+ssh://HOST/system"),
                    uri);
        return FALSE;
    }
    if (vp_uri_has_command(uri)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("URI '%1$s' has a 'command' parameter, which runs a command on this machine; remove the parameter"),
                    uri);
        return FALSE;
    }
    return TRUE;
}

/* The transport of URI's scheme, lowercased as libvirt does ("" for
 * none); NULL when URI has no scheme. */
static char *
vp_uri_transport(const char *uri)
{
    g_autofree char *scheme = g_uri_parse_scheme(uri);
    if (scheme == NULL) {
        return NULL;
    }
    const char *plus = strchr(scheme, '+');
    return g_ascii_strdown(plus != NULL ? plus + 1 : "", -1);
}

gboolean
vp_uri_is_remote(const char *uri)
{
    g_autoptr(GUri) parsed = uri != NULL ? g_uri_parse(uri, G_URI_FLAGS_NONE, NULL)
                                         : NULL;
    if (parsed == NULL) {
        return FALSE;
    }
    const char *host = g_uri_get_host(parsed);
    g_autofree char *transport = vp_uri_transport(uri);
    return (host != NULL && host[0] != '\0') ||
           (transport != NULL && transport[0] != '\0' &&
            strcmp(transport, "unix") != 0);
}

char *
vp_uri_on_host(const char *uri)
{
    g_autoptr(GUri) parsed = uri != NULL ? g_uri_parse(uri, G_URI_FLAGS_NONE, NULL)
                                         : NULL;
    if (parsed == NULL) {
        return NULL;
    }
    g_autofree char *driver = g_strdup(g_uri_get_scheme(parsed));
    char *plus = strchr(driver, '+');
    if (plus != NULL) {
        *plus = '\0';
    }
    return g_strdup_printf("%s://%s", driver, g_uri_get_path(parsed));
}

/* WORD as one shell word: as it is when it holds only characters no shell
 * treats specially, else single-quoted. */
static void
vp_uri_append_word(GString *line, const char *word)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789_@%+=:,./-";

    if (line->len > 0) {
        g_string_append_c(line, ' ');
    }
    if (word[0] != '\0' && strspn(word, safe) == strlen(word)) {
        g_string_append(line, word);
        return;
    }
    g_autofree char *quoted = g_shell_quote(word);
    g_string_append(line, quoted);
}

/* The value of query parameter NAME (any case) of PARSED, decoded; NULL
 * when it has none.  Caller frees. */
static char *
vp_uri_param(GUri *parsed, const char *name)
{
    const char *query = g_uri_get_query(parsed);
    g_autoptr(GHashTable) params = query != NULL
        ? g_uri_parse_params(query, -1, "&;", G_URI_PARAMS_CASE_INSENSITIVE, NULL)
        : NULL;
    return params != NULL ? g_strdup(g_hash_table_lookup(params, name)) : NULL;
}

/* Whether TRANSPORT is one of libvirt's ssh transports. */
static gboolean
vp_uri_transport_is_ssh(const char *transport)
{
    return transport != NULL &&
           (strcmp(transport, "ssh") == 0 || strcmp(transport, "libssh") == 0 ||
            strcmp(transport, "libssh2") == 0);
}

gboolean
vp_uri_may_prompt(const char *uri)
{
    if (uri == NULL) {
        return TRUE;
    }
    if (!vp_uri_is_remote(uri)) {
        return FALSE;
    }
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    g_autofree char *transport = vp_uri_transport(uri);
    g_autofree char *no_tty = vp_uri_param(parsed, "no_tty");
    return !(vp_uri_transport_is_ssh(transport) && no_tty != NULL &&
             atoi(no_tty) != 0);
}

char *
vp_uri_ssh_command(const char *uri, const char *command)
{
    g_autoptr(GUri) parsed = uri != NULL ? g_uri_parse(uri, G_URI_FLAGS_NONE, NULL)
                                         : NULL;
    g_autofree char *transport = parsed != NULL ? vp_uri_transport(uri) : NULL;
    const char *host = parsed != NULL ? g_uri_get_host(parsed) : NULL;

    if (host == NULL || host[0] == '\0' || !vp_uri_transport_is_ssh(transport)) {
        return NULL;
    }
    /* libvirt reads its parameters by name in any case. */
    g_autofree char *keyfile = vp_uri_param(parsed, "keyfile");
    g_autofree char *known = vp_uri_param(parsed, "known_hosts");
    g_autofree char *no_verify = vp_uri_param(parsed, "no_verify");
    g_autoptr(GString) line = g_string_new(NULL);

    vp_uri_append_word(line, "ssh");
    if (g_uri_get_port(parsed) > 0) {
        g_autofree char *port = g_strdup_printf("%d", g_uri_get_port(parsed));
        vp_uri_append_word(line, "-p");
        vp_uri_append_word(line, port);
    }
    if (keyfile != NULL && keyfile[0] != '\0') {
        vp_uri_append_word(line, "-i");
        vp_uri_append_word(line, keyfile);
    }
    if (known != NULL && known[0] != '\0') {
        g_autofree char *opt = g_strconcat("UserKnownHostsFile=", known, NULL);
        vp_uri_append_word(line, "-o");
        vp_uri_append_word(line, opt);
    }
    /* As libvirt reads it: a number, any but 0 turns the check off. */
    if (no_verify != NULL && atoi(no_verify) != 0) {
        vp_uri_append_word(line, "-o");
        vp_uri_append_word(line, "StrictHostKeyChecking=no");
    }
    const char *user = g_uri_get_user(parsed);
    g_autofree char *login = user != NULL && user[0] != '\0'
                                 ? g_strdup_printf("%s@%s", user, host)
                                 : g_strdup(host);
    vp_uri_append_word(line, login);
    vp_uri_append_word(line, command);
    return g_string_free(g_steal_pointer(&line), FALSE);
}
