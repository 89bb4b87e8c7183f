/* Where a conversion reads guest data from: a raw file, a qcow2 image
 * (with its backing chain), or a libvirt download stream.  A source answers
 * in guest offsets (bytes) and says which runs hold data and which read as
 * zeros, so that holes stay holes in the copy. */
#pragma once

#include <glib.h>

typedef struct VpSource VpSource;

typedef struct {
    /* From guest offset POS (< size): *LEN bytes (> 0) that are all data
     * (*DATA TRUE) or all read as zeros. */
    gboolean (*extent)(VpSource *src, guint64 pos, guint64 *len,
                       gboolean *data, GError **error);
    /* LEN bytes of guest data at POS. */
    gboolean (*read)(VpSource *src, guint64 pos, guint8 *buf, gsize len,
                     GError **error);
    /* Optional: a descriptor holding guest byte POS at *FD_OFFSET (raw
     * files), so the copy can use copy_file_range; -1 when none. */
    int (*raw_fd)(VpSource *src, guint64 pos, guint64 *fd_offset);
    void (*free)(VpSource *src);
} VpSourceOps;

struct VpSource {
    const VpSourceOps *ops;
    guint64 size;  /* virtual size, bytes */
    char *format;  /* "raw" or "qcow2" */
    char *name;    /* for messages */
};

/* Opens PATH as FORMAT ("raw" or "qcow2").  With FORMAT NULL the format is
 * detected from the file's own header: qcow2 magic means qcow2, anything
 * else raw.  A qcow2 image's backing chain is opened too (formats as the
 * images record them; an unrecorded one is detected only from a qcow2
 * header, never guessed to be raw). */
VpSource *vp_source_open_file(const char *path, const char *format,
                              GError **error);
void vp_source_free(VpSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSource, vp_source_free)

gboolean vp_source_extent(VpSource *src, guint64 pos, guint64 *len,
                          gboolean *data, GError **error);
gboolean vp_source_read(VpSource *src, guint64 pos, guint8 *buf, gsize len,
                        GError **error);
int vp_source_raw_fd(VpSource *src, guint64 pos, guint64 *fd_offset);
