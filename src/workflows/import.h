/* The import workflow: a local raw or qcow2 image file becomes a volume of
 * a pool, such as a cloud image that overlays will use as their base.
 *
 * Without preallocation the volume gets the file's bytes as they are,
 * through a sparse upload stream: holes stay holes, and a qcow2 keeps its
 * format, clusters and compression.  With preallocation the image's guest
 * view is written into a fully mapped, metadata-preallocated qcow2, as
 * convert does.  Everything is validated before the volume is created, and
 * the volume is removed again when anything fails or the run is
 * interrupted. */
#pragma once

#include <glib.h>

#include "image-options.h"
#include "run.h"
#include "qcow2-layout.h"
#include "virt.h"

typedef struct {
    VpRunEnv run;              /* connection, steps, progress, cancel */
    const char *path;          /* the image file, on this machine */
    const char *pool;
    const char *volume;        /* NULL: the file's base name */
    /* "raw" or "qcow2"; NULL: qcow2 when the file's header is qcow2 as
     * this tool's own reader sees it, else raw. */
    const char *source_format;
    gboolean preallocate;      /* write a metadata-preallocated qcow2 */
    /* The connection to use (borrowed); NULL: connect to run.uri. */
    VpVirt *virt;
} VpImportPlan;

typedef struct {
    char *uri;
    char *path;               /* the file imported */
    char *source_format;      /* "raw" or "qcow2" */
    guint64 file_length;      /* of the file, bytes */
    char *pool;
    gboolean pool_created;    /* the pool "default" was missing: created */
    char *volume;
    char *volume_path;        /* as libvirt reports it */
    char *format;             /* of the volume, as libvirt reports it */
    guint64 virtual_size;     /* bytes the guest sees */
    guint64 capacity;         /* as libvirt reports it, bytes */
    guint64 allocation;       /* bytes */
    guint64 volume_length;    /* the volume's file length, bytes */
    guint64 bytes_sent;       /* data bytes the stream carried, holes not */
    /* What the import did: VP_PREALLOC_OFF for the bytes as they are, else
     * the mode of the qcow2 it wrote (metadata; full on a block device). */
    VpPreallocation preallocation;
    VpQcow2Layout layout;     /* of the qcow2 written with preallocate */
} VpImportResult;

void vp_import_result_clear(VpImportResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpImportResult, vp_import_result_clear)

/* Carries out PLAN, filling RESULT.  Fails with VP_ERROR_INVALID for a bad
 * file or name (missing, unreadable, a directory, empty, not the format
 * asked for, a qcow2 with a backing file), VP_ERROR_EXISTS when the volume
 * name is taken, VP_ERROR_CANCELLED when CANCEL fired, VP_ERROR_FAILED for
 * the rest (pool missing or inactive, libvirt, I/O).  A missing pool
 * "default" is created as provision creates it (and refused alike on a
 * session daemon of another machine, see vp_workflow_default_pool_path).
 * On failure nothing this run created remains. */
gboolean vp_import_run(const VpImportPlan *plan, VpImportResult *result,
                       GError **error);
