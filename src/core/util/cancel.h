/* Cancellation of long work.
 *
 * Every loop that may run for long (the emitter over an image, a stream
 * over a volume, a workflow between its steps) polls a VpCancel between
 * bounded pieces of work.  What makes it fire is not this layer's business:
 * the CLI passes one that reports a signal (cli/interrupt.h), tests may pass
 * one of their own, and NULL means "never cancelled".  Polling rather than
 * unwinding from a handler is what lets every undo step run. */
#pragma once

#include <glib.h>

typedef struct VpCancel VpCancel;
struct VpCancel {
    /* Returns FALSE with an error (VP_ERROR_CANCELLED) once the work must
     * stop; TRUE otherwise.  Called often: it must be cheap. */
    gboolean (*check)(const VpCancel *cancel, GError **error);
};

/* TRUE unless CANCEL (NULL allowed: never) says to stop. */
static inline gboolean
vp_cancel_check(const VpCancel *cancel, GError **error)
{
    return cancel == NULL || cancel->check == NULL ||
           cancel->check(cancel, error);
}
