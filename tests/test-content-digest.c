/* The content digest of base images: equal bytes give equal digests,
 * whether zeros are holes or written, and what is not a regular file is
 * refused at once (a FIFO must not hang the run). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "content-digest.h"
#include "error.h"

#define BLOCK VP_CONTENT_DIGEST_BLOCK

/* A file of LENGTH bytes with DATA at OFFSET; the rest a hole, or zeros
 * written when WRITE_ZEROS. */
static char *
vp_make(const char *dir, const char *name, gsize length, goffset offset,
        const char *data, gboolean write_zeros)
{
    char *path = g_build_filename(dir, name, NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    if (write_zeros) {
        g_autofree guint8 *zeros = g_malloc0(length);
        g_assert_cmpint(pwrite(fd, zeros, length, 0), ==, (ssize_t)length);
    }
    g_assert_cmpint(pwrite(fd, data, strlen(data), offset), ==,
                    (ssize_t)strlen(data));
    g_assert_cmpint(ftruncate(fd, (off_t)length), ==, 0);
    close(fd);
    return path;
}

static char *
vp_digest(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *d = vp_content_digest(path, NULL, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(strlen(d), ==, 64);
    return d;
}

static void
test_content(void)
{
    g_autofree char *dir = g_dir_make_tmp("vp-digest-XXXXXX", NULL);
    gsize len = 5 * BLOCK + 100; /* a partial last block */
    g_autofree char *sparse = vp_make(dir, "sparse", len, 3 * BLOCK + 7, "qcow", FALSE);
    g_autofree char *dense = vp_make(dir, "dense", len, 3 * BLOCK + 7, "qcow", TRUE);
    g_autofree char *moved = vp_make(dir, "moved", len, 2 * BLOCK + 7, "qcow", TRUE);
    g_autofree char *other = vp_make(dir, "other", len, 3 * BLOCK + 7, "qcoW", FALSE);
    g_autofree char *longer = vp_make(dir, "longer", len + 512, 3 * BLOCK + 7,
                                      "qcow", FALSE);
    g_autofree char *tail = vp_make(dir, "tail", len, 5 * BLOCK + 50, "x", FALSE);
    g_autofree char *tail2 = vp_make(dir, "tail2", len, 5 * BLOCK + 51, "x", FALSE);

    g_autofree char *d_sparse = vp_digest(sparse);
    g_autofree char *d_dense = vp_digest(dense);
    g_autofree char *d_moved = vp_digest(moved);
    g_autofree char *d_other = vp_digest(other);
    g_autofree char *d_longer = vp_digest(longer);
    g_autofree char *d_tail = vp_digest(tail);
    g_autofree char *d_tail2 = vp_digest(tail2);

    g_assert_cmpstr(d_sparse, ==, d_dense);
    g_assert_cmpstr(d_sparse, !=, d_moved);
    g_assert_cmpstr(d_sparse, !=, d_other);
    g_assert_cmpstr(d_sparse, !=, d_longer);
    g_assert_cmpstr(d_tail, !=, d_tail2);
    g_assert_cmpstr(d_tail, !=, d_sparse);
    const char *names[] = { "sparse", "dense", "moved", "other", "longer",
                            "tail", "tail2" };
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

static void
test_not_regular(void)
{
    g_autofree char *dir = g_dir_make_tmp("vp-digest-XXXXXX", NULL);
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    /* Nobody writes to the FIFO: a blocking open would never return. */
    g_assert_null(vp_content_digest(fifo, NULL, &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "is not a regular file"));
    g_clear_error(&error);
    g_assert_null(vp_content_digest(dir, NULL, &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_null(vp_content_digest(missing, NULL, &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_unlink(fifo);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/content-digest/content", test_content);
    g_test_add_func("/content-digest/not-regular", test_not_regular);
    return g_test_run();
}
