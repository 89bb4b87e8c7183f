/* How a workflow runs, as opposed to what it does: where it connects, how
 * much it says, how it shows progress and how it learns it must stop.  One
 * struct in every plan, filled in one place by the command line (and, for
 * labs, once per guest), so that a new workflow cannot forget one of them. */
#pragma once

#include <glib.h>

#include "cancel.h"
#include "progress.h"

typedef struct {
    const char *uri;            /* NULL: LIBVIRT_DEFAULT_URI, else libvirt's default */
    gboolean verbose;           /* a step line on stderr for each change */
    const VpProgress *progress; /* for the long upload or copy; may be NULL */
    const VpCancel *cancel;     /* polled between steps; may be NULL */
} VpRunEnv;
