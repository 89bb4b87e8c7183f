/* The files of this machine that a lab manifest names (cloud-init files,
 * a base given as a path): each beneath the manifest's folder or an
 * allowed one by its real path, and a regular file (manifest-private.h).
 * A manifest may come from someone else; it must not make the tool read a
 * file elsewhere. */
#include "manifest-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "source.h"

gboolean
vp_lab_base_is_file(const char *base)
{
    return base != NULL && (g_str_has_prefix(base, "/") ||
                            g_str_has_prefix(base, "./") ||
                            g_str_has_prefix(base, "../"));
}

/* Opens PATH, a real path (vp_lab_file), for reading; O_NONBLOCK so that
 * a FIFO cannot hang us (it is then refused as no regular file), and
 * O_NOFOLLOW so that a symlink put in its place since it was resolved is
 * refused rather than followed out of the checked folder.  Returns the
 * descriptor, -1 with errno set when PATH cannot be opened, or
 * VP_NOT_REGULAR. */
int
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
gboolean
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

/* The real path of the folder DIR into ROOTS.  A missing manifest folder
 * (a manifest parsed from memory) is no root; a missing --allow-path
 * folder is an error. */
gboolean
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
