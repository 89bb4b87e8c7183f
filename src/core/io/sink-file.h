/* A sink that creates a local file.
 *
 * The file is built invisibly (an O_TMPFILE inode, or a hidden temporary
 * name in the same directory where the file system lacks O_TMPFILE) and
 * appears under PATH only on commit, complete and synced.  Without REPLACE an
 * existing PATH is never touched; freeing an uncommitted sink leaves nothing
 * behind. */
#pragma once

#include "sink.h"

/* Opens the invisible file next to PATH.  Fails with VP_ERROR_EXISTS when
 * PATH exists (any type) and REPLACE is FALSE, or when PATH is a directory;
 * with a GIO error naming PATH when its directory is missing or not
 * writable. */
VpSink *vp_file_sink_new(const char *path, gboolean replace, GError **error);
