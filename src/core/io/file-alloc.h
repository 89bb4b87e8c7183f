/* How much of a file's byte ranges the file system has really allocated,
 * counting reserved-but-unwritten extents (fallocate) as allocated.  Used to
 * tell metadata preallocation (data area sparse) from falloc/full. */
#pragma once

#include <glib.h>

#include "qcow2-reader.h"

/* Sums the allocated bytes of FD inside RUNS (VpRange, sorted by offset,
 * not overlapping) into *BYTES.  Uses FIEMAP, else SEEK_DATA/SEEK_HOLE.
 * Fails only when the file system answers neither. */
gboolean vp_file_allocated_in(int fd, const GArray *runs, guint64 *bytes,
                              GError **error);
