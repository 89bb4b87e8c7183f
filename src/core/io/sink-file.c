#include "sink-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "error.h"

/* Start write-back after this many bytes, so that the final fsync finds
 * little left to do and generation overlaps with disk I/O. */
#define VP_WRITEBACK_KICK (4 * 1024 * 1024)
/* Zeros are written from one 1 MiB buffer; a copy goes in 64 MiB calls, so
 * that cancellation and progress see it move. */
#define VP_ZERO_CHUNK (1024 * 1024)
#define VP_COPY_CHUNK (64 << 20)

typedef struct {
    VpSink parent;
    char *path;      /* final name, as given */
    char *base;      /* its last component */
    char *dir;
    int dirfd;
    int fd;
    char *tmp_name;  /* hidden name in DIR; NULL for an O_TMPFILE inode */
    gboolean replace;
    gboolean committed;
    guint64 kick_start; /* first byte not yet handed to write-back */
    guint64 written_end;
    guint8 *zeros;   /* VP_ZERO_CHUNK zero bytes, made on first use */
} VpFileSink;

static void
vp_file_sink_set_errno(VpFileSink *s, int err, GError **error)
{
    /* The errors a user can act on get a message saying what to do. */
    if (err == ENOSPC || err == EDQUOT) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    _("not enough space to write '%1$s' (%2$s); free some "
                      "space or choose another directory"),
                    s->path, g_strerror(err));
    } else if (err == EFBIG) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    _("'%1$s' would be larger than its file system allows "
                      "(%2$s); use a file system that takes larger files, "
                      "such as XFS, or no preallocation"),
                    s->path, g_strerror(err));
    } else {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    _("cannot write '%1$s': %2$s"), s->path, g_strerror(err));
    }
}

/* SYNC_FILE_RANGE_WRITE only starts write-back and waits for nothing, file
 * metadata included: durability still comes from the fsync at commit. */
static void
vp_file_sink_kick(VpFileSink *s, guint64 end)
{
    s->written_end = MAX(s->written_end, end);
    if (s->written_end - s->kick_start >= VP_WRITEBACK_KICK) {
        /* Advisory only: an error here shows up again at fsync. */
        (void)sync_file_range(s->fd, (off64_t)s->kick_start,
                              (off64_t)(s->written_end - s->kick_start),
                              SYNC_FILE_RANGE_WRITE);
        s->kick_start = s->written_end;
    }
}

static gboolean
vp_file_sink_pwrite(VpFileSink *s, guint64 offset, const guint8 *buf,
                    gsize len, GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite(s->fd, buf, len, (off_t)offset);
        /* The CLI's signal handlers lack SA_RESTART; retry, the cancel check
         * comes later. */
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* A zero-length write on a full device reports no errno. */
            vp_file_sink_set_errno(s, n < 0 ? errno : ENOSPC, error);
            return FALSE;
        }
        buf += n;
        len -= (gsize)n;
        offset += (guint64)n;
    }
    vp_file_sink_kick(s, offset);
    return TRUE;
}

static gboolean
vp_file_sink_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
                   GError **error)
{
    return vp_file_sink_pwrite((VpFileSink *)sink, offset, buf, len, error);
}

/* Nothing to do: the emitter goes in file order and ftruncate at commit sets
 * the length, so a trailing hole needs no write either. */
static gboolean
vp_file_sink_hole(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    /* The file is new, so every byte not written reads as zero; the final
     * length is set at commit. */
    return TRUE;
}

/* posix_fallocate returns its error number (errno is left alone) and
 * is never restarted after a signal: it fails with EINTR, and tmpfs then
 * even drops what it had reserved of the range.  Retrying the same range
 * could therefore go on for ever under frequent signals (a timer, a
 * resized terminal), so each retry takes half the range, down to
 * VP_ALLOC_MIN_PIECE, which has a better chance to finish between two
 * signals.  Ctrl-C is not lost: its handler recorded it, and the emitter
 * polls for it once this (bounded) step returns. */
#define VP_ALLOC_MIN_PIECE (G_GUINT64_CONSTANT(1) << 20)

static gboolean
vp_file_sink_allocate(VpSink *sink, guint64 offset, guint64 len,
                      GError **error)
{
    VpFileSink *s = (VpFileSink *)sink;
    guint64 piece = len;

    while (len > 0) {
        guint64 n = MIN(len, piece);
        int err = posix_fallocate(s->fd, (off_t)offset, (off_t)n);
        if (err == EINTR) {
            piece = MAX(n / 2, VP_ALLOC_MIN_PIECE);
            continue;
        }
        if (err != 0) {
            vp_file_sink_set_errno(s, err, error);
            return FALSE;
        }
        /* Within the range the caller asked for: cannot overflow. */
        offset += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
vp_file_sink_zero(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    VpFileSink *s = (VpFileSink *)sink;

    if (s->zeros == NULL) {
        s->zeros = g_malloc0(VP_ZERO_CHUNK);
    }
    while (len > 0) {
        gsize n = (gsize)MIN(len, (guint64)VP_ZERO_CHUNK);
        if (!vp_file_sink_pwrite(s, offset, s->zeros, n, error)) {
            return FALSE;
        }
        offset += n;
        len -= n;
    }
    return TRUE;
}

static gboolean
vp_file_sink_copy(VpSink *sink, guint64 offset, int fd, guint64 fd_offset,
                  guint64 len, GError **error)
{
    VpFileSink *s = (VpFileSink *)sink;
    loff_t in = (loff_t)fd_offset;
    loff_t out = (loff_t)offset;
    gboolean started = FALSE;

    while (len > 0) {
        /* The kernel may reflink each chunk.
         * Without reflinks every byte is read: ask for the next chunk
         * early, so that reading it overlaps with copying this one. */
        size_t chunk = (size_t)MIN(len, (guint64)VP_COPY_CHUNK);
        if (len > chunk) {
            (void)posix_fadvise(fd, in + (off_t)chunk,
                                (off_t)MIN(len - chunk, (guint64)VP_COPY_CHUNK),
                                POSIX_FADV_WILLNEED);
        }
        ssize_t n = copy_file_range(fd, &in, s->fd, &out, chunk, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        /* These mean "not between these two files" (another file system, a
         * descriptor copy_file_range cannot use): said before any byte moved,
         * so the caller may read and write instead.  After the first chunk
         * every error is real. */
        if (n < 0 && !started &&
            (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
             errno == EOPNOTSUPP || errno == EBADF)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        _("cannot copy into '%1$s' in the kernel: %2$s"),
                        s->path, g_strerror(errno));
            return FALSE;
        }
        if (n <= 0) {
            vp_file_sink_set_errno(s, n < 0 ? errno : EIO, error);
            return FALSE;
        }
        started = TRUE;
        len -= (guint64)n;
    }
    /* No early write-back here: a copy's reads and writes share the disk,
     * and starting write-back made the next reads wait (measured: 0.7 s of
     * 3 s for 2 GiB).  The final fsync writes it all at once. */
    return TRUE;
}

/* Links the finished inode at a fresh hidden name in the directory, for a
 * rename that replaces PATH. */
static char *
vp_file_sink_link_hidden(VpFileSink *s, const char *proc_path, GError **error)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        g_autofree char *name = g_strdup_printf(".%s.%08x", s->base,
                                                g_random_int());
        if (linkat(AT_FDCWD, proc_path, s->dirfd, name, AT_SYMLINK_FOLLOW) == 0) {
            return g_steal_pointer(&name);
        }
        if (errno != EEXIST) {
            break;
        }
    }
    vp_file_sink_set_errno(s, errno, error);
    return NULL;
}

/* Makes the finished inode appear under its name.  An O_TMPFILE inode is
 * linked in with linkat through /proc/self/fd, which fails with EEXIST rather
 * than replace anything: the name either does not exist or gets the complete,
 * synced image, never a partial one. */
static gboolean
vp_file_sink_publish(VpFileSink *s, GError **error)
{
    if (s->tmp_name == NULL) {
        g_autofree char *proc_path = g_strdup_printf("/proc/self/fd/%d", s->fd);
        if (linkat(AT_FDCWD, proc_path, s->dirfd, s->base, AT_SYMLINK_FOLLOW) == 0) {
            return TRUE;
        }
        if (errno != EEXIST || !s->replace) {
            goto fail;
        }
        /* --force: replace atomically through a hidden name. */
        s->tmp_name = vp_file_sink_link_hidden(s, proc_path, error);
        if (s->tmp_name == NULL) {
            return FALSE;
        }
    }
    if (s->replace) {
        if (renameat(s->dirfd, s->tmp_name, s->dirfd, s->base) == 0) {
            return TRUE;
        }
        goto fail;
    }
    /* Without --force the hidden name is renamed with RENAME_NOREPLACE: a file
     * that appeared meanwhile is kept, not overwritten. */
    if (renameat2(s->dirfd, s->tmp_name, s->dirfd, s->base, RENAME_NOREPLACE) == 0) {
        return TRUE;
    }
    if (errno == EINVAL || errno == ENOSYS) {
        /* No RENAME_NOREPLACE here: link() also refuses to replace. */
        if (linkat(s->dirfd, s->tmp_name, s->dirfd, s->base, 0) == 0) {
            (void)unlinkat(s->dirfd, s->tmp_name, 0);
            return TRUE;
        }
    }

fail:
    if (errno == EEXIST) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("'%1$s' appeared while it was being written; it was "
                      "left alone"),
                    s->path);
    } else {
        vp_file_sink_set_errno(s, errno, error);
    }
    return FALSE;
}

static gboolean
vp_file_sink_commit(VpSink *sink, guint64 length, GError **error)
{
    VpFileSink *s = (VpFileSink *)sink;

    /* Data first: the name must not become visible before the bytes are
     * durable, or a crash could leave a complete-looking, empty image. */
    if (ftruncate(s->fd, (off_t)length) < 0 || fsync(s->fd) < 0) {
        vp_file_sink_set_errno(s, errno, error);
        return FALSE;
    }
    if (!vp_file_sink_publish(s, error)) {
        return FALSE;
    }
    /* Published: from here on nothing may remove it, even if the directory
     * sync fails. */
    s->committed = TRUE;
    g_clear_pointer(&s->tmp_name, g_free);
    /* Make the new name itself durable. */
    if (fsync(s->dirfd) < 0) {
        vp_file_sink_set_errno(s, errno, error);
        return FALSE;
    }
    return TRUE;
}

static void
vp_file_sink_free(VpSink *sink)
{
    VpFileSink *s = (VpFileSink *)sink;

    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->tmp_name != NULL) {
        (void)unlinkat(s->dirfd, s->tmp_name, 0);
    }
    if (s->dirfd >= 0) {
        close(s->dirfd);
    }
    g_free(s->tmp_name);
    g_free(s->zeros);
    g_free(s->path);
    g_free(s->base);
    g_free(s->dir);
    g_free(s);
}

static const VpSinkOps vp_file_sink_ops = {
    .write = vp_file_sink_write,
    .hole = vp_file_sink_hole,
    .allocate = vp_file_sink_allocate,
    .zero = vp_file_sink_zero,
    .copy = vp_file_sink_copy,
    .commit = vp_file_sink_commit,
    .free = vp_file_sink_free,
};

/* Checked before anything is written, so that an existing file costs the user
 * a message, not the minutes spent writing an image; publish checks again at
 * the end, as another process may create the name meanwhile. */
static gboolean
vp_file_sink_check_target(VpFileSink *s, GError **error)
{
    struct stat st;

    if (fstatat(s->dirfd, s->base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) {
            return TRUE;
        }
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot inspect '%1$s': %2$s"), s->path,
                    g_strerror(errno));
        return FALSE;
    }
    if (S_ISDIR(st.st_mode)) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("'%1$s' is a directory; name the image file to create "
                      "in it"),
                    s->path);
        return FALSE;
    }
    if (!s->replace) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("'%1$s' already exists"),
                    s->path);
        return FALSE;
    }
    return TRUE;
}

/* An O_TMPFILE inode has no name until publish links it, so a crash or a
 * failure leaves nothing in the directory.  In the same directory, as rename
 * and link cannot cross file systems. */
static gboolean
vp_file_sink_open_hidden(VpFileSink *s, GError **error)
{
    s->fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (s->fd >= 0) {
        return TRUE;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        goto fail;
    }
    /* No O_TMPFILE on this file system: a hidden name, removed on failure. */
    for (int attempt = 0; attempt < 100; attempt++) {
        g_autofree char *name = g_strdup_printf(".%s.%08x", s->base,
                                                g_random_int());
        s->fd = openat(s->dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                       0666);
        if (s->fd >= 0) {
            s->tmp_name = g_steal_pointer(&name);
            return TRUE;
        }
        if (errno != EEXIST) {
            break;
        }
    }

fail:
    g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                _("cannot create a file in '%1$s': %2$s"), s->dir,
                g_strerror(errno));
    return FALSE;
}

VpSink *
vp_file_sink_new(const char *path, gboolean replace, GError **error)
{
    VpFileSink *s = g_new0(VpFileSink, 1);
    g_autoptr(VpSink) sink = &s->parent;

    s->parent.ops = &vp_file_sink_ops;
    s->fd = -1;
    s->path = g_strdup(path);
    s->base = g_path_get_basename(path);
    s->dir = g_path_get_dirname(path);
    s->replace = replace;
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot use directory '%1$s' for '%2$s': %3$s"), s->dir,
                    path, g_strerror(errno));
        return NULL;
    }
    /* g_path_get_basename gives "." or ".." for such paths, which name the
     * directory, not a file in it. */
    if (g_str_has_suffix(path, "/") || strcmp(s->base, ".") == 0 ||
        strcmp(s->base, "..") == 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_EXISTS,
                    _("'%1$s' is a directory; name the image file to create "
                      "in it"),
                    path);
        return NULL;
    }
    if (!vp_file_sink_check_target(s, error) ||
        !vp_file_sink_open_hidden(s, error)) {
        return NULL;
    }
    return g_steal_pointer(&sink);
}
