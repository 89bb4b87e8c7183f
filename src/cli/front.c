/* The front at a terminal; the why is in front.h.  Only the front program
 * builds this file: it is one thread, so everything after fork is safe. */
#include "front.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>

/* What the libvirt program gets from the front's signals: the interrupts
 * are handed on to it alone, so its ssh children never see them. */
static const int vp_front_forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* The libvirt program, for the handlers; 0 before it exists. */
static volatile sig_atomic_t vp_front_child;

static void
vp_front_forward(int signo)
{
    pid_t child = vp_front_child;

    if (child > 0) {
        kill(child, signo);
    }
}

/* Ctrl-Z while the front has the terminal: the libvirt program's group
 * stops, which the wait loop sees and follows (vp_front_stopped). */
static void
vp_front_suspend(int signo)
{
    pid_t child = vp_front_child;

    if (child > 0) {
        kill(-child, SIGTSTP);
    }
}

/* SIGCHLD only ends the wait loop's sigsuspend. */
static void
vp_front_wake(int signo)
{
}

/* The controlling terminal, open, when standard error goes to it and this
 * process is in its foreground; else -1.  tcgetpgrp fails on any other
 * terminal than the controlling one. */
static int
vp_front_terminal(void)
{
    if (!isatty(STDERR_FILENO) || tcgetpgrp(STDERR_FILENO) != getpgrp()) {
        return -1;
    }
    return open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

/* Makes PGRP the terminal's foreground, also from the background: a
 * process may do that while it blocks SIGTTOU. */
static void
vp_front_give(int tty, pid_t pgrp)
{
    sigset_t ttou, old;

    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    (void)tcsetpgrp(tty, pgrp);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Stops the front with SIGNO (a stop signal, by its default action) until
 * a SIGCONT; a front in an orphaned group does not stop at all. */
static void
vp_front_stop(int signo)
{
    struct sigaction dfl, old;
    sigset_t one;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(signo, &dfl, &old);
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(signo);
    sigaction(signo, &old, NULL);
}

/* The libvirt program's group CHILD stopped with SIGNO. */
static void
vp_front_stopped(int tty, pid_t child, int signo)
{
    pid_t fg = tcgetpgrp(tty);
    gboolean wants = signo == SIGTTIN || signo == SIGTTOU;

    /* It touched the terminal from the background (a prompt outside a
     * connection's opening, a terminal with stty tostop) while the job is
     * in the foreground: it gets the terminal. */
    if (wants && fg == getpgrp()) {
        vp_front_give(tty, child);
        kill(-child, SIGCONT);
        return;
    }
    /* Else the shell's job, which is the front, stops as the child did
     * (Ctrl-Z, a SIGSTOP, a background job reading the terminal), with the
     * terminal in hand if the child had it; fg continues the front, which
     * hands the terminal back where it is needed and continues the child,
     * bg continues both without it. */
    if (fg == child) {
        vp_front_give(tty, getpgrp());
    }
    vp_front_stop(wants ? signo : SIGTSTP);
    if ((fg == child || wants) && tcgetpgrp(tty) == getpgrp()) {
        vp_front_give(tty, child);
    }
    kill(-child, SIGCONT);
}

/* The signals as they were before vp_front_run, and the mask MASK. */
static void
vp_front_restore(const sigset_t *mask)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_front_forwarded); i++) {
        signal(vp_front_forwarded[i], SIG_DFL);
    }
    signal(SIGTSTP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
}

/* The libvirt program, forked: a group of its own, killed with SIGHUP
 * (and so undone) should the front die first, the front's mask and
 * signals as they were before.  Never returns. */
static void
vp_front_exec(const char *program, char **argv, pid_t front,
              const sigset_t *mask, void (*exec_failed)(const char *, int))
{
    char pgrp[32];

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGHUP);
    if (getppid() != front) {
        _exit(1);
    }
    vp_front_restore(mask);
    g_snprintf(pgrp, sizeof(pgrp), "%d", (int)getpgid(front));
    g_setenv(VP_FRONT_PGRP_ENV, pgrp, TRUE);
    execv(program, argv);
    exec_failed(program, errno);
    _exit(1);
}

/* Waits for CHILD to end, following its stops; its wait status. */
static int
vp_front_wait(int tty, pid_t child, const sigset_t *wait_mask)
{
    for (;;) {
        int status = 0;
        pid_t r = waitpid(child, &status, WNOHANG | WUNTRACED);
        if (r == child && WIFSTOPPED(status)) {
            vp_front_stopped(tty, child, WSTOPSIG(status));
        } else if (r == child) {
            return status;
        } else if (r < 0 && errno != EINTR) {
            /* Not ours any more (it cannot be): as a failure. */
            return 1 << 8;
        } else {
            sigsuspend(wait_mask);
        }
    }
}

int
vp_front_run(const char *program, char **argv,
             void (*exec_failed)(const char *program, int err))
{
    int tty = vp_front_terminal();
    sigset_t block, orig, wait_mask;
    struct sigaction sa;

    if (tty < 0) {
        return -1;
    }
    /* Every signal the front handles waits until the child's pid is known
     * to the handlers; SIGCHLD stays blocked outside sigsuspend, so that
     * no end of the child is missed between a look and the wait. */
    sigemptyset(&block);
    for (gsize i = 0; i < G_N_ELEMENTS(vp_front_forwarded); i++) {
        sigaddset(&block, vp_front_forwarded[i]);
    }
    sigaddset(&block, SIGTSTP);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &orig);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = vp_front_forward;
    for (gsize i = 0; i < G_N_ELEMENTS(vp_front_forwarded); i++) {
        sigaction(vp_front_forwarded[i], &sa, NULL);
    }
    sa.sa_handler = vp_front_suspend;
    sigaction(SIGTSTP, &sa, NULL);
    sa.sa_handler = vp_front_wake;
    sigaction(SIGCHLD, &sa, NULL);

    pid_t front = getpid();
    pid_t child = fork();
    if (child == 0) {
        vp_front_exec(program, argv, front, &orig, exec_failed);
    }
    if (child < 0) {
        vp_front_restore(&orig);
        close(tty);
        return -1;
    }
    /* Also here: whichever of the two runs first, the group exists before
     * a signal is handed on to it. */
    setpgid(child, child);
    vp_front_child = child;
    sigdelset(&block, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    sigprocmask(SIG_BLOCK, NULL, &wait_mask);
    sigdelset(&wait_mask, SIGCHLD);

    int status = vp_front_wait(tty, child, &wait_mask);
    /* The terminal back to the shell's job if the child had it last (not
     * when the job runs in the background: the shell has it then). */
    if (tcgetpgrp(tty) == child) {
        vp_front_give(tty, getpgrp());
    }
    close(tty);
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    int signo = WTERMSIG(status);
    /* Dies as the libvirt program died, so that its caller sees the same
     * (a shell: 130 after Ctrl-C); a core dump is the child's alone. */
    if (!WCOREDUMP(status)) {
        sigset_t one;
        fflush(NULL);
        signal(signo, SIG_DFL);
        sigemptyset(&one);
        sigaddset(&one, signo);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(signo);
    }
    return 128 + signo;
}
