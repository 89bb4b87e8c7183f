/* A file's content digest, for naming what is uploaded by its content
 * (a lab's base images): equal content, equal name, on every host.
 *
 * SHA-256 over the file's length and its non-zero 64 KiB blocks, each with
 * its index: a block of zeros counts the same whether it is a hole or
 * written, so the digest depends on the bytes alone, and holes are skipped
 * (SEEK_DATA) without being read: a sparse 20G image with 300 MiB of data
 * costs 300 MiB of reading and hashing. */
#pragma once

#include <glib.h>

#include "cancel.h"

#define VP_CONTENT_DIGEST_BLOCK (64 * 1024)

/* The digest of PATH as 64 lowercase hex digits.  PATH must be a regular
 * file: anything else (a FIFO, a device, a directory) fails at once with
 * VP_ERROR_INVALID, as does a file that cannot be opened.  A read error
 * is VP_ERROR_FAILED; CANCEL (may be NULL) is polled between blocks.
 * Caller frees. */
char *vp_content_digest(const char *path, const VpCancel *cancel,
                        GError **error);
