#include "content-digest.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"

/* Hashes block INDEX of BUF (LEN bytes) unless every byte is zero. */
static void
vp_digest_block(GChecksum *sum, guint64 index, const guint8 *buf, gsize len)
{
    gsize i = 0;

    while (i < len && buf[i] == 0) {
        i++;
    }
    if (i == len) {
        return;
    }
    guint64 be = GUINT64_TO_BE(index);
    g_checksum_update(sum, (const guchar *)&be, sizeof(be));
    g_checksum_update(sum, buf, (gssize)len);
}

/* The next offset at or after POS that may hold data: the file's end when
 * only a hole follows; POS itself where SEEK_DATA is not supported. */
static off_t
vp_next_data(int fd, off_t pos, off_t end)
{
    off_t data = lseek(fd, pos, SEEK_DATA);

    if (data < 0) {
        return errno == ENXIO ? end : pos;
    }
    return data;
}

char *
vp_content_digest(const char *path, const VpCancel *cancel, GError **error)
{
    /* Non-blocking, so that a FIFO named as an image cannot hang the open;
     * no controlling terminal from a tty. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;

    if (fd < 0) {
        int err = errno;
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("cannot open '%1$s': %2$s"), path, g_strerror(err));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' is not a regular file; name an image file"), path);
        return NULL;
    }
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autofree guint8 *buf = g_malloc(VP_CONTENT_DIGEST_BLOCK);
    guint64 size_be = GUINT64_TO_BE((guint64)st.st_size);
    off_t end = st.st_size;
    off_t pos = 0;
    gboolean ok = TRUE;

    g_checksum_update(sum, (const guchar *)&size_be, sizeof(size_be));
    while (ok && pos < end) {
        /* From the block that holds the next data. */
        pos = vp_next_data(fd, pos, end) / VP_CONTENT_DIGEST_BLOCK *
              VP_CONTENT_DIGEST_BLOCK;
        if (pos >= end) {
            break;
        }
        gsize want = (gsize)MIN((off_t)VP_CONTENT_DIGEST_BLOCK, end - pos);
        gsize got = 0;
        while (got < want) {
            ssize_t n = pread(fd, buf + got, want - got, pos + (off_t)got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                int err = n < 0 ? errno : EIO;
                g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                            _("cannot read '%1$s': %2$s"), path,
                            g_strerror(err));
                ok = FALSE;
                break;
            }
            got += (gsize)n;
        }
        if (ok) {
            vp_digest_block(sum, (guint64)pos / VP_CONTENT_DIGEST_BLOCK, buf,
                            want);
            pos += (off_t)want;
            ok = vp_cancel_check(cancel, error);
        }
    }
    close(fd);
    return ok ? g_strdup(g_checksum_get_string(sum)) : NULL;
}
