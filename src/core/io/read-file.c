/* Bounded whole-file reads: see read-file.h. */
#include "read-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

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
