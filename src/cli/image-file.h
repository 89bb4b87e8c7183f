/* An image file opened for reading by info and check (and info of a pool
 * volume, once it is readable here). */
#pragma once

#include <glib.h>

typedef struct {
    int fd;
    guint64 length;      /* bytes */
    guint64 allocated;   /* bytes on disk (st_blocks * 512) */
    struct VpQcow2Image *img; /* NULL when the file is not qcow2 */
} VpImageFile;

/* Opens PATH read-only; IMG is set when it carries the qcow2 magic and
 * opens cleanly.  Errors name PATH. */
gboolean vp_image_file_open(const char *path, VpImageFile *file,
                            GError **error);
/* The same for an open descriptor FD (taken over, also on failure: FILE's
 * cleanup closes it), NAME for messages. */
gboolean vp_image_file_open_fd(int fd, const char *name, VpImageFile *file,
                               GError **error);
void vp_image_file_clear(VpImageFile *file);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpImageFile, vp_image_file_clear)
