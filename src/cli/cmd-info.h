/* What info prints, shared by its two forms: a FILE (cmd-info.c) and a
 * pool volume (cmd-volume.c, in the libvirt program). */
#pragma once

#include <glib.h>

#include "image-file.h"

/* Prints what info prints about FILE (opened), named NAME; exit code. */
int vp_info_report(const char *name, VpImageFile *file);
