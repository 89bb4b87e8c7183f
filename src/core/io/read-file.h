/* Reading small files whole (manifests, seed files, keys) without trusting
 * their size: the limit is enforced while reading, so a file that grows
 * meanwhile, a FIFO or /dev/zero cannot make the tool hold more. */
#pragma once

#include <glib.h>

/* Reads PATH (opened without becoming a controlling terminal) up to LIMIT
 * bytes.  Returns the bytes NUL-terminated (*LEN does not count the NUL),
 * with *TOO_BIG set when the file holds more than LIMIT (the buffer then
 * holds LIMIT + 1 bytes); NULL with *ERR an errno value when it cannot be
 * opened or read.  Caller frees. */
char *vp_read_file_bounded(const char *path, gsize limit, gsize *len,
                           gboolean *too_big, int *err);

/* Reads PATH whole as vp_read_file_bounded() does and requires UTF-8 text
 * (no NUL byte either); WHAT names the file's role in messages
 * ("user-data", "SSH key file").  Fails with VP_ERROR_INVALID when it
 * cannot be read, holds more than LIMIT bytes or is not UTF-8.  Returns
 * the bytes, NUL-terminated for parsers (*LEN does not count the NUL).
 * Caller frees. */
char *vp_read_text_file(const char *path, const char *what, gsize limit,
                        gsize *len, GError **error);
