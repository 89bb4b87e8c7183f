/* Reading and checking qcow2 images that may be hostile.
 *
 * Every offset and size read from an image is validated before use: header
 * fields against qemu's limits, table positions against overflow, table sizes
 * against caps.  Reads past the end of the image return zeros, as qemu's file
 * layer does, so a truncated image is judged the way qemu-img judges it.
 * Memory is bounded by the caps (L1 32 MiB, refcount table 8 MiB) plus, for
 * check, two bytes per cluster of the file. */
#pragma once

#include <glib.h>

/* Reads LEN bytes at OFFSET into BUF; bytes past the end of the source are
 * zeros.  Returns FALSE with an error only when the source itself fails. */
typedef gboolean (*VpReadFunc)(gpointer opaque, guint64 offset, void *buf,
                               gsize len, GError **error);

typedef struct {
    guint32 version;          /* 2 or 3 */
    guint32 cluster_bits;
    guint64 cluster_size;
    guint64 virtual_size;
    guint32 refcount_bits;
    guint32 header_length;
    guint64 incompatible_features;
    guint64 compatible_features;
    guint64 autoclear_features;
    guint32 compression_type; /* 0 zlib, 1 zstd */
    guint32 l1_size;
    guint64 l1_offset;
    guint64 reftable_offset;
    guint32 reftable_clusters;
    guint32 nb_snapshots;
    guint64 snapshots_offset;
    gboolean extended_l2;
    char *backing_file;       /* NULL without one */
    char *backing_format;     /* NULL when the image does not say */
    guint64 file_length;      /* length of the source, bytes */
} VpQcow2Meta;

typedef struct VpQcow2Image VpQcow2Image;

/* Opens an image through READ.  NAME is used in messages.  Fails with
 * VP_ERROR_CORRUPT when the header is not valid qcow2 (including "not qcow2
 * at all": see vp_qcow2_probe), VP_ERROR_UNSUPPORTED for valid features this
 * reader does not handle (encryption, external data files). */
VpQcow2Image *vp_qcow2_image_open(VpReadFunc read, gpointer opaque,
                                  guint64 length, const char *name,
                                  GError **error);
void vp_qcow2_image_free(VpQcow2Image *img);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpQcow2Image, vp_qcow2_image_free)

/* The qcow2 image in FD (LENGTH bytes, NAME for messages), which must
 * stand alone, as a base or an imported image must: a damaged image, one
 * the reader refuses, or one with a backing file fails with
 * VP_ERROR_INVALID.  Free with vp_qcow2_image_free(). */
VpQcow2Image *vp_qcow2_open_alone(int fd, guint64 length, const char *name,
                                  GError **error);

/* TRUE when the first bytes carry the qcow2 magic. */
gboolean vp_qcow2_probe(VpReadFunc read, gpointer opaque, gboolean *is_qcow2,
                        GError **error);

const VpQcow2Meta *vp_qcow2_image_meta(const VpQcow2Image *img);

/* A range of host bytes. */
typedef struct {
    guint64 offset;
    guint64 length;
} VpRange;

/* Counts guest clusters that have a host cluster or compressed data: the
 * "mapped" half of the preallocation state.  Reads every L2 table once.
 * When RUNS is not NULL, appends the host ranges of the mapped data
 * clusters to it (adjacent clusters merged, sorted by offset) as long as
 * there are at most MAX_RUNS of them; *RUNS_COMPLETE says whether all
 * fitted. */
gboolean vp_qcow2_image_count_mapped(VpQcow2Image *img, guint64 *mapped,
                                     GArray *runs, guint max_runs,
                                     gboolean *runs_complete, GError **error);

typedef struct {
    guint64 corruptions;
    guint64 leaks;
    guint64 check_errors;
    guint64 image_end_offset;
    guint64 total_clusters;     /* guest clusters */
    guint64 allocated_clusters;
    guint64 fragmented_clusters;
    guint64 compressed_clusters;
    GPtrArray *messages;        /* of char *: the first problems found */
    guint64 messages_dropped;   /* problems beyond the ones kept */
} VpQcow2Check;

/* Rebuilds every refcount from the header, the active and snapshot L1/L2
 * tables and the refcount structures, and compares them with the stored
 * ones, classifying problems as qemu-img check does.  Fills RESULT (which the
 * caller clears with vp_qcow2_check_clear).  Returns FALSE only when the
 * check could not be carried out (memory, I/O). */
gboolean vp_qcow2_image_check(VpQcow2Image *img, VpQcow2Check *result,
                              GError **error);
void vp_qcow2_check_clear(VpQcow2Check *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpQcow2Check, vp_qcow2_check_clear)

/* What the guest sees at a guest offset. */
typedef enum {
    VP_GUEST_ZERO,       /* reads as zeros: zero cluster or subcluster */
    VP_GUEST_DATA,       /* stored at a host offset */
    VP_GUEST_COMPRESSED, /* stored compressed; read with read_compressed */
    VP_GUEST_BACKING,    /* not in this image: the backing file, or zeros */
} VpGuestKind;

/* Maps guest byte OFFSET (< virtual size): its kind, for how many bytes
 * from OFFSET that holds (to the end of its cluster or subcluster), and for
 * DATA the host offset of OFFSET.  Fails with VP_ERROR_CORRUPT on entries
 * no valid image has. */
gboolean vp_qcow2_image_guest_map(VpQcow2Image *img, guint64 offset,
                                  VpGuestKind *kind, guint64 *len,
                                  guint64 *host, GError **error);

/* Reads the whole guest cluster holding OFFSET, which must be COMPRESSED,
 * into BUF (cluster_size bytes).  zlib only. */
gboolean vp_qcow2_image_read_compressed(VpQcow2Image *img, guint64 offset,
                                        guint8 *buf, GError **error);

/* Reads LEN bytes at host OFFSET of the image file. */
gboolean vp_qcow2_image_read_host(VpQcow2Image *img, guint64 offset,
                                  void *buf, gsize len, GError **error);

/* Readers for the two sources the tool has: a file descriptor (OPAQUE is
 * GINT_TO_POINTER(fd)) and a memory buffer (OPAQUE is a VpMemSource). */
gboolean vp_read_fd(gpointer opaque, guint64 offset, void *buf, gsize len,
                    GError **error);

typedef struct {
    const guint8 *data;
    gsize len;
} VpMemSource;

gboolean vp_read_mem(gpointer opaque, guint64 offset, void *buf, gsize len,
                     GError **error);
