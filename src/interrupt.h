/* Ctrl-C and friends.  Long operations poll vp_interrupt_check() between
 * steps, so that an interrupt unwinds through the normal error path and every
 * undo runs; the signal handler itself only records the signal. */
#pragma once

#include <glib.h>

/* Installs handlers for SIGINT, SIGTERM and SIGHUP. */
void vp_interrupt_install(void);

/* Returns FALSE with VP_ERROR_CANCELLED once a signal has arrived. */
gboolean vp_interrupt_check(GError **error);

/* The signal that arrived, or 0. */
int vp_interrupt_signal(void);
