/* The environment a libvirt command runs its workflow in (run.h): where it
 * connects, how it reports, how Ctrl-C stops it. */
#pragma once

#include <glib.h>

#include "run.h"

/* The URI a command that talks to one libvirt host connects to into *URI:
 * --connect (vp_cli_parse checked it), else LIBVIRT_DEFAULT_URI when set
 * and not empty, else NULL (libvirt's own default).  Fails with
 * VP_ERROR_INVALID, naming the variable, when LIBVIRT_DEFAULT_URI would
 * run a local command (uri.h).  *URI is borrowed. */
gboolean vp_cli_connect_uri(const char **uri, GError **error);

/* How RUN tells the user what it does: with --verbose, a line on stderr
 * for each step, "virt-provision: STEP"; and how its messages name an
 * option: as the command line spells it (vp_cli_option_name).  For runs
 * whose URI, progress and cancel are set otherwise (a lab's). */
void vp_cli_run_reporting(VpRunEnv *run);

/* Fills RUN from the global options: the URI (vp_cli_connect_uri, whose
 * error it returns), its reporting (vp_cli_run_reporting), a progress bar labelled LABEL (see
 * vp_cli_progress; none for a NULL LABEL) and the cancel that Ctrl-C and SIGTERM fire, whose
 * handlers it installs.  Every single-host libvirt command starts its
 * workflow this way. */
gboolean vp_cli_run_env(VpRunEnv *run, const char *label, GError **error);
