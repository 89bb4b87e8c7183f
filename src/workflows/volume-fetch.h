/* A pool volume made readable on this machine, for info of a volume on
 * any host.  Only reads: nothing on the host changes. */
#pragma once

#include <glib.h>

#include "run.h"

/* Looks up volume VOLUME of POOL on RUN->uri's host and gives a read-only
 * descriptor of its bytes in *FD (the caller closes it) and its path on
 * the host in *PATH (caller frees).  A volume this machine can read is
 * opened in place; any other is first copied through a sparse download
 * stream, polling RUN->cancel, into a temporary file that has no name, so
 * that nothing is left behind however the run ends (only the metadata of
 * a preallocated image travels).  On failure *FD is -1 and *PATH NULL. */
gboolean vp_volume_fetch(const VpRunEnv *run, const char *pool,
                         const char *volume, int *fd, char **path,
                         GError **error);
