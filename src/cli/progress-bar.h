/* The progress bar of long work (an upload, a copy), on stderr. */
#pragma once

#include <glib.h>

#include "progress.h"

/* A progress bar on stderr for long work: bytes, rate and time left.
 * Returns NULL (no bar) unless stderr is a terminal and neither --quiet nor
 * --json was given; the bar appears only once the work has taken a moment.
 * LABEL says what is going on ("writing"); borrowed.  One bar at a time: a
 * second call restarts the bar the first returned. */
const VpProgress *vp_cli_progress(const char *label);
