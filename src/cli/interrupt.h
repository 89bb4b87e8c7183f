/* Ctrl-C and friends.  The handler only records the signal; long work
 * polls vp_interrupt_cancel() (a VpCancel for the layers below) between
 * steps, so that an interrupt unwinds through the normal error path and
 * every undo runs. */
#pragma once

#include <glib.h>

#include "cancel.h"

/* Installs handlers for SIGINT, SIGTERM and SIGHUP. */
void vp_interrupt_install(void);

/* Returns FALSE with VP_ERROR_CANCELLED once a signal has arrived. */
gboolean vp_interrupt_check(GError **error);

/* A VpCancel that fires once a signal has arrived; static, never freed. */
const VpCancel *vp_interrupt_cancel(void);

/* The signal that arrived, or 0. */
int vp_interrupt_signal(void);
