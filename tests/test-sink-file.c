/* The local file sink against the ways the kernel interrupts it.
 *
 * posix_fallocate can return EINTR when a signal arrives (tmpfs did so
 * for any pending signal, and dropped what it had reserved of the range,
 * up to Linux 6.1 at least).  A program with a timer, a resized terminal
 * or a child exiting gets such signals all the time, and an image must not
 * fail because of them.
 *
 * Two tests: /sink-file/allocate/eintr reserves a large range on tmpfs
 * while SIGALRM (without SA_RESTART, which would not help anyway: the call
 * is never restarted) arrives every millisecond; whether the kernel gives
 * up with EINTR there depends on its version.  /sink-file/allocate/
 * eintr-injected makes posix_fallocate fail with EINTR a few times (the
 * program is linked with --wrap=posix_fallocate), which shows the retry on
 * every kernel. */
#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "sink-file.h"

#define ALLOC_LEN (G_GUINT64_CONSTANT(256) << 20)

static volatile sig_atomic_t alarms;

/* Calls of posix_fallocate still to fail with EINTR, before the real one
 * runs. */
static guint eintr_left;

int __real_posix_fallocate(int fd, off_t offset, off_t len);
int __wrap_posix_fallocate(int fd, off_t offset, off_t len);

int
__wrap_posix_fallocate(int fd, off_t offset, off_t len)
{
    if (eintr_left > 0) {
        eintr_left--;
        return EINTR;
    }
    return __real_posix_fallocate(fd, offset, len);
}

static void
on_alarm(int signo)
{
    alarms++;
}

/* $VP_TEST_TMPFS, else /dev/shm; NULL (with the test failed, saying why)
 * when that is not a tmpfs, where EINTR cannot be shown. */
static const char *
tmpfs_dir(void)
{
    const char *dir = g_getenv("VP_TEST_TMPFS");
    struct statfs fs;

    if (dir == NULL) {
        dir = "/dev/shm";
    }
    if (statfs(dir, &fs) < 0 || fs.f_type != TMPFS_MAGIC) {
        g_test_message("%s is not a tmpfs (set VP_TEST_TMPFS to one): "
                       "fallocate there may not be interrupted", dir);
        g_test_fail();
        return NULL;
    }
    return dir;
}

static void
test_allocate_eintr(void)
{
    const char *dir = tmpfs_dir();
    if (dir == NULL) {
        return;
    }
    g_autofree char *tmp = g_build_filename(dir, "vp-sink-XXXXXX", NULL);
    g_assert_nonnull(g_mkdtemp(tmp));
    g_autofree char *path = g_build_filename(tmp, "img", NULL);
    g_autoptr(GError) error = NULL;
    VpSink *sink = vp_file_sink_new(path, FALSE, &error);
    g_assert_no_error(error);

    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    g_assert_cmpint(sigaction(SIGALRM, &sa, &old), ==, 0);
    const struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } };
    const struct itimerval off = { { 0, 0 }, { 0, 0 } };
    alarms = 0;
    g_assert_cmpint(setitimer(ITIMER_REAL, &every_ms, NULL), ==, 0);
    gboolean ok = vp_sink_allocate(sink, 0, ALLOC_LEN, &error);
    guint seen = (guint)alarms;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);

    g_test_message("%u timer signals during the allocation", seen);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_true(vp_sink_commit(sink, ALLOC_LEN, &error));
    g_assert_no_error(error);
    vp_sink_free(sink);

    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint((guint64)st.st_size, ==, ALLOC_LEN);
    /* Reserved, not sparse: every block of the range is there. */
    g_assert_cmpuint((guint64)st.st_blocks * 512, >=, ALLOC_LEN);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(tmp), ==, 0);
    /* Without a signal during the call, nothing was shown. */
    if (seen == 0) {
        g_test_message("no timer signal arrived during the allocation: "
                       "EINTR was not exercised");
        g_test_fail();
    }
}

static void
test_allocate_eintr_injected(void)
{
    const guint64 len = G_GUINT64_CONSTANT(8) << 20;
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = g_dir_make_tmp("vp-sink-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *path = g_build_filename(tmp, "img", NULL);
    VpSink *sink = vp_file_sink_new(path, FALSE, &error);
    g_assert_no_error(error);

    eintr_left = 3;
    gboolean ok = vp_sink_allocate(sink, 0, len, &error);
    guint unused = eintr_left;
    eintr_left = 0;
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpuint(unused, ==, 0);
    g_assert_true(vp_sink_commit(sink, len, &error));
    g_assert_no_error(error);
    vp_sink_free(sink);

    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpuint((guint64)st.st_size, ==, len);
    g_assert_cmpuint((guint64)st.st_blocks * 512, >=, len);
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(tmp), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sink-file/allocate/eintr", test_allocate_eintr);
    g_test_add_func("/sink-file/allocate/eintr-injected",
                    test_allocate_eintr_injected);
    return g_test_run();
}
