/* The image emitter: turns a layout into bytes, in file order, into a sink.
 *
 * Memory does not grow with the image: refcount blocks and L2 tables of a
 * new image are arithmetic (entry i of the L2 area points at data_offset +
 * i * cluster_size), so they are generated a chunk at a time into one bounded
 * buffer.  Runs of zeros become holes; the data area becomes a hole
 * (metadata), an allocation (falloc) or written zeros (full). */
#pragma once

#include <glib.h>

#include "cancel.h"
#include "qcow2-layout.h"
#include "sink.h"
#include "source.h"

/* Bytes the emitter buffers before handing them to the sink. */
#define VP_EMIT_CHUNK (1024 * 1024)

/* Emits the image LAYOUT describes (qcow2 or raw) into SINK and commits it.
 * Polls CANCEL (may be NULL) between chunks and steps.  On failure the sink
 * is left uncommitted; the caller frees it, which discards the partial
 * result. */
gboolean vp_image_emit(const VpQcow2Layout *layout, VpSink *sink,
                       const VpCancel *cancel, GError **error);

/* As vp_image_emit, with the data area filled from SRC (a conversion): its
 * data runs are copied to data_offset + guest offset, copy_file_range where
 * the sink and source allow; its zero runs are treated as the whole data
 * area is without a source (hole, allocation or zeros by preallocation).
 * SRC->size must not exceed LAYOUT's virtual size. */
gboolean vp_image_emit_from(const VpQcow2Layout *layout, VpSink *sink,
                            VpSource *src, const VpCancel *cancel,
                            GError **error);
