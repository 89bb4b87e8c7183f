/* Where a conversion reads guest data from: a raw file, a qcow2 image
 * (with its backing chain), or a libvirt download stream.  A source answers
 * in guest offsets (bytes) and says which runs hold data and which read as
 * zeros, so that holes stay holes in the copy. */
#pragma once

#include <glib.h>

#include "backing.h"

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


/* A backing chain as a caller states it: LEVELS nearest first (LEVELS[0]
 * is the backing file of the image itself).  CLOSED: the last level (or
 * the image, with no levels) has no backing file at all, as an empty
 * <backingStore/> says; otherwise the images' own headers say what follows
 * the last level. */
typedef struct {
    GPtrArray *levels; /* of VpBackingLevel *, owned */
    gboolean closed;
} VpBackingChain;

VpBackingChain *vp_backing_chain_new(void);
/* Appends a level (PATH and FORMAT copied; FORMAT may be NULL). */
void vp_backing_chain_add(VpBackingChain *chain, const char *path,
                          const char *format);
void vp_backing_chain_free(VpBackingChain *chain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpBackingChain, vp_backing_chain_free)

/* Opens PATH as FORMAT ("raw" or "qcow2").  With FORMAT NULL the format is
 * probed from the file's own header: qcow2 magic means qcow2, anything else
 * raw.  Those bytes may come from a guest, so a probed qcow2 that names a
 * backing file is refused (VP_ERROR_INVALID) before that file is opened:
 * only a caller that states the format may follow it.
 *
 * A qcow2 image's backing chain is opened too, each level in the format
 * the image records for it (or CHAIN states); a format is never guessed, so
 * a backing file of unrecorded and unstated format is refused
 * (VP_ERROR_INVALID).  CHAIN (may be NULL: the headers alone decide) must
 * agree with what the headers name, level by level: the same file (paths
 * compared after resolving a relative name against its image's directory),
 * the same format where both say one, no backing file where it is closed
 * and one wherever it has a level; any difference is refused
 * (VP_ERROR_INVALID). */
VpSource *vp_source_open_file(const char *path, const char *format,
                              const VpBackingChain *chain, GError **error);
void vp_source_free(VpSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSource, vp_source_free)

gboolean vp_source_extent(VpSource *src, guint64 pos, guint64 *len,
                          gboolean *data, GError **error);
gboolean vp_source_read(VpSource *src, guint64 pos, guint8 *buf, gsize len,
                        GError **error);
int vp_source_raw_fd(VpSource *src, guint64 pos, guint64 *fd_offset);

/* Whether the regular file open as FD (LENGTH bytes long; NAME for
 * messages) is a disk image that may become a base volume, judged by its
 * own bytes so that an arbitrary file (a key, a kubeconfig) is never taken
 * for one: a qcow2 image that this tool's reader opens (magic, version 2
 * or 3, sound header) and that has no backing file, or a raw image that is
 * a nonzero whole number of 512-byte sectors long and carries a signature
 * of a boot sector or partition table (0x55AA at 510: MBR, GPT, FAT), an
 * ext2/3/4, XFS, btrfs or ISO 9660 file system, a LUKS header or a swap
 * area.  *FORMAT gets "qcow2" or "raw" (static).  Reads at most the qcow2
 * metadata or 64 KiB; fails with VP_ERROR_INVALID naming NAME and what to
 * give instead, or with a read error. */
gboolean vp_source_identify(int fd, guint64 length, const char *name,
                            const char **format, GError **error);
