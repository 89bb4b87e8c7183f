/* The global options, given before or after any command word.  Filled by
 * vp_cli_parse (command.h), read wherever a command prints. */
#pragma once

#include <glib.h>

typedef struct {
    char *connect; /* -c/--connect URI */
    gboolean json;
    gboolean quiet;
    gboolean verbose;
} VpGlobalOptions;

extern VpGlobalOptions vp_global;
