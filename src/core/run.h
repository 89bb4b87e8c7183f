/* How a workflow runs, as opposed to what it does: where it connects, how
 * it tells the user what it is doing, how it shows progress and how it
 * learns it must stop.  One struct in every plan, filled in one place by
 * the front end (and, for labs, copied once per guest), so that a new
 * workflow cannot forget one of them. */
#pragma once

#include <glib.h>

#include "cancel.h"
#include "progress.h"

/* Tells the user MESSAGE (one translated line, without a program name or
 * newline) as the step a run is taking.  A lab's guests call it from
 * several threads at once. */
typedef void (*VpStepFunc)(const char *message, gpointer data);

typedef struct {
    const char *uri;            /* NULL: LIBVIRT_DEFAULT_URI, else libvirt's default */
    /* Called for each change the run makes; NULL: the steps go unsaid.
     * Nothing below the front end prints: this is how a step reaches the
     * user (vp_workflow_step). */
    VpStepFunc step;
    gpointer data;              /* the front end's, for STEP */
    const VpProgress *progress; /* for the long upload or copy; may be NULL */
    const VpCancel *cancel;     /* polled between steps; may be NULL */
} VpRunEnv;
