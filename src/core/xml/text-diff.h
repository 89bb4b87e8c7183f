/* Unified diffs of text.  Pure: no XML, no libvirt. */
#pragma once

#include <glib.h>

/* A unified diff (3 lines of context) from OLD to NEW, labelled with
 * OLD_NAME and NEW_NAME; "" when they are equal.  Caller frees. */
char *vp_text_diff(const char *old_text, const char *new_text,
                   const char *old_name, const char *new_name);
