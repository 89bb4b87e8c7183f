/* Progress of a long write (an image, an upload, a conversion): a sink that
 * passes every extent on to another and reports how far the image has got,
 * in bytes of the image (holes count: they are done at once). */
#pragma once

#include <glib.h>

#include "sink.h"

typedef void (*VpProgressFunc)(guint64 done, guint64 total, gpointer user);

typedef struct {
    VpProgressFunc func;
    gpointer user;
} VpProgress;

/* Wraps INNER (taking ownership) for an image of TOTAL bytes; with PROGRESS
 * NULL or without a function, returns INNER itself. */
VpSink *vp_progress_sink_new(VpSink *inner, guint64 total,
                             const VpProgress *progress);
