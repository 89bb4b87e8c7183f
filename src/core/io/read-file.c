/* Bounded whole-file reads: see read-file.h. */
#include "read-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "size.h"

char *
vp_read_file_bounded(const char *path, gsize limit, gsize *len,
                     gboolean *too_big, int *err)
{
    *too_big = FALSE;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    /* One byte past the limit tells "exactly LIMIT" from "more"; one more
     * for the NUL the parsers want. */
    g_autofree char *buf = g_malloc(limit + 2);
    gsize have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, limit + 1 - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            *err = errno;
            close(fd);
            return NULL;
        }
        have += (gsize)n;
        if (n == 0 || have > limit) {
            break;
        }
    }
    close(fd);
    buf[have] = '\0';
    *too_big = have > limit;
    *len = have;
    return g_steal_pointer(&buf);
}

char *
vp_read_text_file(const char *path, const char *what, gsize limit,
                  gsize *len, GError **error)
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
