/* Signal handling for the CLI; the contract is in interrupt.h. */
#include "interrupt.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "exit-codes.h"

static const int vp_interrupt_signals[] = { SIGINT, SIGTERM, SIGHUP };

/* Written by the handler and read by the polls without a torn value. */
static volatile sig_atomic_t vp_interrupt_signo;

/* Back to the default action, and the signal unblocked, so that raising it
 * kills the process.  Async-signal-safe. */
static void
vp_interrupt_default(int signo)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, signo);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void
vp_interrupt_handler(int signo)
{
    /* Only a record: nothing a long run does (libvirt calls, malloc, stdio) is
     * async-signal-safe, so the undo must run from the normal code path. */
    if (vp_interrupt_signo == 0) {
        vp_interrupt_signo = signo;
        return;
    }
    /* A second signal while the first is being handled: the user will not
     * wait for the undo (it may hang on a host that does not answer), so
     * die of this one now. */
    vp_interrupt_default(signo);
    raise(signo);
}

void
vp_interrupt_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = vp_interrupt_handler;
    /* One handler at a time: a SIGTERM landing inside the SIGINT handler
     * must see the first signal recorded. */
    sigemptyset(&sa.sa_mask);
    for (gsize i = 0; i < G_N_ELEMENTS(vp_interrupt_signals); i++) {
        sigaddset(&sa.sa_mask, vp_interrupt_signals[i]);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(vp_interrupt_signals); i++) {
        sigaction(vp_interrupt_signals[i], &sa, NULL);
    }
}

gboolean
vp_interrupt_check(GError **error)
{
    int signo = vp_interrupt_signo;

    if (signo != 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_CANCELLED,
                    _("interrupted by signal %1$d (%2$s)"), signo,
                    g_strsignal(signo));
        return FALSE;
    }
    return TRUE;
}

static gboolean
vp_interrupt_cancel_check(const VpCancel *cancel, GError **error)
{
    return vp_interrupt_check(error);
}

const VpCancel *
vp_interrupt_cancel(void)
{
    static const VpCancel cancel = { vp_interrupt_cancel_check };
    return &cancel;
}

int
vp_interrupt_signal(void)
{
    return vp_interrupt_signo;
}

int
vp_interrupt_exit(int code)
{
    int signo = vp_interrupt_signo;

    /* A committed success keeps its 0, signal or not. */
    if (signo == 0 || code == VP_EXIT_OK) {
        return code;
    }
    /* What was printed must not die in a buffer with the process. */
    fflush(NULL);
    vp_interrupt_default(signo);
    raise(signo);
    /* Not reached unless something keeps the signal from killing; the
     * shell's own code for it, then. */
    return 128 + signo;
}
