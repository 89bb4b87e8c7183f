/* How a workflow runs, as opposed to what it does: where it connects, how
 * it tells the user what it is doing, how it shows progress and how it
 * learns it must stop.  One struct in every plan, filled in one place by
 * the front end (and, for labs, copied once per guest), so that a new
 * workflow cannot forget one of them. */
#pragma once

#include <glib.h>

#include "cancel.h"
#include "error.h"
#include "progress.h"

/* Tells the user MESSAGE (one translated line, without a program name or
 * newline) as the step a run is taking.  A lab's guests call it from
 * several threads at once. */
typedef void (*VpStepFunc)(const char *message, gpointer data);

/* The front end's spelling of OPTION ("--name" on the command line), for
 * a message that tells the user which option to give, drop or change.
 * Returns a static string. */
typedef const char *(*VpOptionNameFunc)(VpOptionErrorCode option,
                                        gpointer data);

typedef struct {
    const char *uri;            /* NULL: LIBVIRT_DEFAULT_URI, else libvirt's default */
    /* Called for each change the run makes; NULL: the steps go unsaid.
     * Nothing below the front end prints: this is how a step reaches the
     * user (vp_workflow_step). */
    VpStepFunc step;
    /* Never NULL: every message that names an option spells it this way
     * (vp_run_option). */
    VpOptionNameFunc option_name;
    gpointer data;              /* the front end's, for STEP and OPTION_NAME */
    const VpProgress *progress; /* for the long upload or copy; may be NULL */
    const VpCancel *cancel;     /* polled between steps; may be NULL */
} VpRunEnv;

/* RUN's front end's spelling of OPTION. */
static inline const char *
vp_run_option(const VpRunEnv *run, VpOptionErrorCode option)
{
    return run->option_name(option, run->data);
}
