/* libFuzzer harness: the qcow2 reader on arbitrary bytes.  Everything an
 * image can make the reader do must end cleanly under ASan and UBSan,
 * whatever the bytes:
 *
 *  - open, count the mapping, full check (info and check);
 *  - the guest map over the whole virtual size and the zlib inflation of
 *    compressed clusters (what convert reads a hostile image through);
 *  - the VpSource of source.c that convert copies from: extents and reads,
 *    down the backing chain.
 *
 * Work per input is bounded whatever the header claims, so that a 2^60-byte
 * virtual size or 2 MiB clusters stay fast: the map is walked in a fixed
 * number of steps (from offset 0, from every allocated L2 table, and at
 * evenly spaced samples), and the source in a fixed number of extents.
 *
 * VpSource opens files only, so the input is written to a file in a private
 * temporary directory that also holds the two backing files the seeds name,
 * base.raw and base.qcow2.  A backing name with a '/' would reach outside
 * that directory; such inputs skip the source part. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "image-options.h"
#include "qcow2-emit.h"
#include "qcow2-layout.h"
#include "qcow2-reader.h"
#include "sink-file.h"
#include "source.h"

/* Map steps walked from offset 0, and from each allocated L2 table. */
#define VP_FUZZ_WALK_STEPS 1024
#define VP_FUZZ_L2_STEPS 16
/* L1 entries looked at, and evenly spaced samples over the virtual size. */
#define VP_FUZZ_L1_ENTRIES 256
#define VP_FUZZ_SAMPLES 64
/* Compressed clusters inflated per input (up to 2 MiB each). */
#define VP_FUZZ_COMPRESSED 16
/* Source extents per input, and bytes read at the start of each. */
#define VP_FUZZ_EXTENTS 32
#define VP_FUZZ_READ (64 * 1024)

/* The size of the backing files the harness provides, bytes. */
#define VP_FUZZ_BASE_SIZE (1024 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *vp_fuzz_dir;   /* the private temporary directory */
static char *vp_fuzz_input; /* the file each input is written to */

static void
vp_fuzz_cleanup(void)
{
    const char *names[] = { "input.qcow2", "base.raw", "base.qcow2" };

    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autofree char *path = g_build_filename(vp_fuzz_dir, names[i], NULL);
        g_unlink(path);
    }
    g_rmdir(vp_fuzz_dir);
}

/* base.raw: a pattern in its first half, a hole after it; base.qcow2: the
 * same guest data as a qcow2 image written by the tool itself. */
static void
vp_fuzz_make_backing(void)
{
    g_autofree char *raw = g_build_filename(vp_fuzz_dir, "base.raw", NULL);
    g_autofree char *qcow2 = g_build_filename(vp_fuzz_dir, "base.qcow2", NULL);
    g_autofree guint8 *pattern = g_malloc(VP_FUZZ_BASE_SIZE / 2);
    g_autoptr(GError) error = NULL;
    VpImageOptions opts;
    VpQcow2Layout layout;

    for (gsize i = 0; i < VP_FUZZ_BASE_SIZE / 2; i++) {
        pattern[i] = (guint8)(i * 7 + 1);
    }
    g_assert_true(g_file_set_contents(raw, (const char *)pattern,
                                      VP_FUZZ_BASE_SIZE / 2, &error));
    g_assert_no_error(error);
    g_assert_true(truncate(raw, VP_FUZZ_BASE_SIZE) == 0);

    vp_image_options_init(&opts);
    opts.size = VP_FUZZ_BASE_SIZE;
    opts.cluster_size = 4096;
    g_assert_true(vp_qcow2_layout_compute(&opts, &layout, &error));
    g_autoptr(VpSource) src = vp_source_open_file(raw, "raw", NULL, &error);
    g_assert_no_error(error);
    g_autoptr(VpSink) sink = vp_file_sink_new(qcow2, TRUE, &error);
    g_assert_no_error(error);
    gboolean ok = vp_image_emit_from(&layout, sink, src, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) error = NULL;

    (void)argc;
    (void)argv;
    vp_fuzz_dir = g_dir_make_tmp("vp-fuzz-XXXXXX", &error);
    g_assert_no_error(error);
    vp_fuzz_input = g_build_filename(vp_fuzz_dir, "input.qcow2", NULL);
    vp_fuzz_make_backing();
    atexit(vp_fuzz_cleanup);
    return 0;
}

typedef struct {
    VpQcow2Image *img;
    guint8 *cluster;   /* cluster_size bytes for inflated data */
    guint compressed;  /* compressed clusters inflated so far */
} VpFuzzWalk;

/* Walks up to STEPS pieces of the guest map from OFFSET, inflating the
 * compressed clusters it meets and reading a little of each data piece.
 * Stops at the end of the image or at the first error. */
static void
vp_fuzz_walk(VpFuzzWalk *w, guint64 offset, guint steps)
{
    const VpQcow2Meta *m = vp_qcow2_image_meta(w->img);

    for (guint i = 0; i < steps && offset < m->virtual_size; i++) {
        g_autoptr(GError) error = NULL;
        VpGuestKind kind;
        guint64 len;
        guint64 host;
        guint8 sector[512];

        if (!vp_qcow2_image_guest_map(w->img, offset, &kind, &len, &host,
                                      &error)) {
            return;
        }
        /* The contract: a piece is never empty and never leaves its
         * cluster. */
        g_assert_cmpuint(len, >, 0);
        g_assert_cmpuint(len, <=, m->cluster_size);
        if (kind == VP_GUEST_COMPRESSED && w->compressed < VP_FUZZ_COMPRESSED) {
            w->compressed++;
            if (!vp_qcow2_image_read_compressed(w->img, offset, w->cluster,
                                                &error)) {
                g_clear_error(&error);
            }
        } else if (kind == VP_GUEST_DATA &&
                   !vp_qcow2_image_read_host(w->img, host, sector,
                                             (gsize)MIN(len, sizeof(sector)),
                                             &error)) {
            return;
        }
        if (len > G_MAXUINT64 - offset) {
            return;
        }
        offset += len;
    }
}

/* The guest map, from the start, from where each allocated L2 table begins
 * and at evenly spaced samples. */
static void
vp_fuzz_map(VpQcow2Image *img)
{
    const VpQcow2Meta *m = vp_qcow2_image_meta(img);
    g_autofree guint8 *cluster = g_malloc(m->cluster_size);
    VpFuzzWalk w = { img, cluster, 0 };
    guint64 l2_span = m->cluster_size / (m->extended_l2 ? 16 : 8) *
                      m->cluster_size;
    guint n_l1 = MIN(m->l1_size, VP_FUZZ_L1_ENTRIES);
    g_autofree guint8 *l1 = g_malloc0((gsize)n_l1 * 8 + 1);
    g_autoptr(GError) error = NULL;

    vp_fuzz_walk(&w, 0, VP_FUZZ_WALK_STEPS);
    if (vp_qcow2_image_read_host(img, m->l1_offset, l1, (gsize)n_l1 * 8,
                                 &error)) {
        for (guint i = 0; i < n_l1; i++) {
            guint64 entry;
            /* Byte order does not matter for "not zero". */
            memcpy(&entry, l1 + (gsize)i * 8, 8);
            if (entry != 0) {
                vp_fuzz_walk(&w, i * l2_span, VP_FUZZ_L2_STEPS);
            }
        }
    }
    for (guint i = 0; i < VP_FUZZ_SAMPLES; i++) {
        vp_fuzz_walk(&w, m->virtual_size / VP_FUZZ_SAMPLES * i, 2);
    }
    if (m->virtual_size > 0) {
        vp_fuzz_walk(&w, m->virtual_size - 1, 1);
    }
}

/* What convert does with a source: extents from the start, and a read of
 * the first bytes of each. */
static void
vp_fuzz_source(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *buf = g_malloc(VP_FUZZ_READ);

    /* In place, without the fsync of a safe replace: thousands a second. */
    g_assert_true(g_file_set_contents_full(vp_fuzz_input, (const char *)data,
                                           (gssize)size,
                                           G_FILE_SET_CONTENTS_NONE, 0600,
                                           &error));
    g_assert_no_error(error);
    /* As convert opens it: the format from the header, which refuses a
     * probed image that names a backing file; and as convert --source-format
     * qcow2 opens it, which follows the chain (only names inside this
     * directory reach the source: see the caller). */
    g_autoptr(VpSource) src = vp_source_open_file(vp_fuzz_input, NULL, NULL,
                                                  &error);
    if (src == NULL) {
        g_clear_error(&error);
        src = vp_source_open_file(vp_fuzz_input, "qcow2", NULL, &error);
    }
    if (src == NULL) {
        return;
    }
    guint64 pos = 0;
    for (guint i = 0; i < VP_FUZZ_EXTENTS && pos < src->size; i++) {
        guint64 len;
        gboolean is_data;
        if (!vp_source_extent(src, pos, &len, &is_data, &error)) {
            return;
        }
        g_assert_cmpuint(len, >, 0);
        g_assert_cmpuint(len, <=, src->size - pos);
        if (is_data && !vp_source_read(src, pos, buf,
                                       (gsize)MIN(len, VP_FUZZ_READ), &error)) {
            return;
        }
        pos += len;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VpMemSource mem = { data, size };
    g_autoptr(VpQcow2Image) img = vp_qcow2_image_open(vp_read_mem, &mem, size,
                                                      "fuzz", NULL);
    guint64 mapped;
    gboolean complete;
    g_autoptr(GArray) runs = g_array_new(FALSE, FALSE, sizeof(VpRange));
    g_auto(VpQcow2Check) result = { 0 };

    if (img == NULL) {
        return 0;
    }
    (void)vp_qcow2_image_count_mapped(img, &mapped, runs, 1000, &complete,
                                      NULL);
    (void)vp_qcow2_image_check(img, &result, NULL);
    vp_fuzz_map(img);

    const char *backing = vp_qcow2_image_meta(img)->backing_file;
    if (backing == NULL || strchr(backing, '/') == NULL) {
        vp_fuzz_source(data, size);
    }
    return 0;
}
