/* The command line's names for what the layers below speak of: they say
 * "cluster size" (a lab manifest has the same thing as a key), the command
 * line says which of its options that was. */
#pragma once

#include <glib.h>

#include "error.h"

/* The command line's spelling of OPTION ("--cluster-size"): the
 * VpRunEnv.option_name of every run it starts.  DATA is unused. */
const char *vp_cli_option_name(VpOptionErrorCode option, gpointer data);

/* Names the command-line option a VP_OPTION_ERROR is about in ERROR's
 * message ("--cluster-size: invalid cluster size 3000 ..."); other errors
 * are left as they are.  vp_cli_fail calls it. */
void vp_cli_name_option(GError *error);

/* Puts OPTION in front of ERROR's message, in the same form: for errors of
 * the core about an option's value (a seed file of --cloud-init). */
void vp_cli_label_error(GError *error, const char *option);

/* Adds "use --force to replace it" to a VP_ERROR_EXISTS about the file
 * PATH (not a directory), for the commands that have --force. */
void vp_cli_hint_force(GError *error, const char *path);
