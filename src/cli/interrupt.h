/* Ctrl-C and friends.  The handler only records the signal; long work
 * polls vp_interrupt_cancel() (a VpCancel for the layers below) between
 * steps, so that an interrupt unwinds through the normal error path and
 * every undo runs.  Once that is done, main() dies of the same signal
 * (vp_interrupt_exit), so that a parent sees the run was interrupted: a
 * shell reports 130/143 and stops a loop, as after any Ctrl-C. */
#pragma once

#include <glib.h>

#include "cancel.h"

/* Installs handlers for SIGINT, SIGTERM and SIGHUP.  The first signal is
 * recorded; a second one (a user tired of waiting for an undo stuck on an
 * unreachable host) kills the process at once with its default action. */
void vp_interrupt_install(void);

/* Returns FALSE with VP_ERROR_CANCELLED once a signal has arrived. */
gboolean vp_interrupt_check(GError **error);

/* A VpCancel that fires once a signal has arrived; static, never freed. */
const VpCancel *vp_interrupt_cancel(void);

/* The signal that arrived, or 0. */
int vp_interrupt_signal(void);

/* The end of main(): returns CODE, unless a signal arrived and CODE is not
 * success; then the signal's default action is restored and the signal
 * raised, so that the process is killed by it.  A run that completed
 * despite a late signal keeps its 0: its work is done and committed. */
int vp_interrupt_exit(int code);
