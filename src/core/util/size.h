/* Sizes on the command line and in messages.
 *
 * Accepted: a whole number of bytes, optionally followed by a unit; with a
 * unit the number may carry a decimal fraction ("1.5T").  Units, in any case:
 *   K M G T P E, KiB MiB ... EiB   powers of 1024 (as qemu-img and virsh)
 *   KB MB GB TB PB EB              powers of 1000
 *   B                              bytes
 * Rejected: empty text, signs, exponents, hexadecimal, white space, unknown
 * units, and anything above G_MAXUINT64 bytes.  A fractional result is
 * rounded up to a whole byte. */
#pragma once

#include <glib.h>

/* Parses TEXT into *BYTES.  WHAT names the thing in error messages (for
 * example "--size").  Returns FALSE with VP_ERROR_INVALID on bad text. */
gboolean vp_size_parse(const char *text, const char *what, guint64 *bytes,
                       GError **error);

/* Human form of BYTES with IEC units ("20 GiB", "1.5 TiB", "512 bytes").
 * Exact multiples print without decimals.  Caller frees. */
char *vp_size_format(guint64 bytes);
