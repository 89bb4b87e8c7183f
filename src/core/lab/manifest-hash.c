/* The drift fingerprint of a lab guest (vp_lab_guest_options_hash in
 * manifest.h): its options and the content of its cloud-init files. */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "manifest-private.h"
#include "size.h"

static int
vp_compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Length-prefixed, so that no two different sequences of strings feed the
 * same bytes ("a" "bc" against "ab" "c"). */
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

