/* The terminal while connections open; the why is in terminal.h. */
#include "terminal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>

#include "front.h"
#include "uri.h"
#include "virt.h"

/* The front's process group; 0 when the front did not start this one. */
static pid_t vp_terminal_front;
/* Openings under way that hold the terminal: a lab opens its hosts'
 * connections at once, and the last one to end gives it back. */
static GMutex vp_terminal_lock;
static guint vp_terminal_holders;

/* Makes PGRP the foreground of the controlling terminal, from the
 * background too (allowed while SIGTTOU is blocked). */
static void
vp_terminal_give(pid_t pgrp)
{
    sigset_t ttou, old;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        return;
    }
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &ttou, &old);
    (void)tcsetpgrp(fd, pgrp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fd);
}

static void
vp_terminal_open_hook(const char *uri, gboolean opening)
{
    if (!vp_uri_may_prompt(uri)) {
        return;
    }
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&vp_terminal_lock);
    if (opening ? vp_terminal_holders++ == 0 : --vp_terminal_holders == 0) {
        vp_terminal_give(opening ? getpgrp() : vp_terminal_front);
    }
}

void
vp_terminal_init(void)
{
    const char *text = g_getenv(VP_FRONT_PGRP_ENV);
    guint64 pgrp = 0;

    /* Read once and removed: ssh and every other child of this program
     * runs as if started directly. */
    if (text != NULL &&
        g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT, &pgrp, NULL)) {
        vp_terminal_front = (pid_t)pgrp;
        vp_virt_set_open_hook(vp_terminal_open_hook);
    }
    g_unsetenv(VP_FRONT_PGRP_ENV);
}
