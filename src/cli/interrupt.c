#include "interrupt.h"

#include <signal.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"

static volatile sig_atomic_t vp_interrupt_signo;

static void
vp_interrupt_handler(int signo)
{
    vp_interrupt_signo = signo;
}

void
vp_interrupt_install(void)
{
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = vp_interrupt_handler;
    sigemptyset(&sa.sa_mask);
    for (gsize i = 0; i < G_N_ELEMENTS(signals); i++) {
        sigaction(signals[i], &sa, NULL);
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
