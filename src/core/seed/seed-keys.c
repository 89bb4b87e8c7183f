/* SSH public key files for the seed: the ones the user names, or the
 * invoking user's own (seed-private.h).  A key goes to a guest's
 * authorized_keys, so every line must be a public key, never a private
 * key or a certificate. */
#include "seed-private.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "read-file.h"

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
gboolean
vp_ssh_keys_read(const char *path, gboolean found_by_us, GPtrArray *keys,
                 GError **error)
{
    const char *what = _("SSH key file");
    gsize len = 0;
    g_autofree char *text = vp_read_text_file(path, what,
                                              VP_SEED_MAX_KEY_FILE, &len,
                                              error);
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
gboolean
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
