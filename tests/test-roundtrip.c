/* The emitter and the reader against each other, without qemu: every image
 * the emitter writes must open and check clean with the tool's own reader,
 * with the options it was asked for.  (qemu-img is the outside oracle in
 * conformance.py; this test pins the same properties down in-process.) */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "qcow2-emit.h"
#include "qcow2-reader.h"

/* A sink that keeps the written bytes in memory; holes stay unbacked. */
typedef struct {
    VpSink parent;
    GByteArray *bytes;
    guint64 length;
    gboolean committed;
    guint64 writes;
    guint64 max_write;
    guint64 fail_after; /* fail the write after this many, 0 = never */
} MemSink;

static gboolean
mem_write(VpSink *sink, guint64 offset, const guint8 *buf, gsize len,
          GError **error)
{
    MemSink *s = (MemSink *)sink;
    if (s->fail_after != 0 && s->writes >= s->fail_after) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_FAILED, "injected");
        return FALSE;
    }
    s->writes++;
    s->max_write = MAX(s->max_write, len);
    if (s->bytes != NULL) {
        guint old = s->bytes->len;
        if (old < offset + len) {
            /* Holes read as zeros: clear what growing leaves behind. */
            g_byte_array_set_size(s->bytes, (guint)(offset + len));
            memset(s->bytes->data + old, 0, offset + len - old);
        }
        memcpy(s->bytes->data + offset, buf, len);
    }
    return TRUE;
}

static gboolean
mem_nothing(VpSink *sink, guint64 offset, guint64 len, GError **error)
{
    return TRUE;
}

static gboolean
mem_commit(VpSink *sink, guint64 length, GError **error)
{
    MemSink *s = (MemSink *)sink;
    s->length = length;
    s->committed = TRUE;
    return TRUE;
}

static void
mem_free(VpSink *sink)
{
    MemSink *s = (MemSink *)sink;
    if (s->bytes != NULL) {
        g_byte_array_unref(s->bytes);
    }
    g_free(s);
}

static const VpSinkOps mem_ops = {
    .write = mem_write, .hole = mem_nothing, .allocate = mem_nothing,
    .zero = mem_nothing, .commit = mem_commit, .free = mem_free,
};

static MemSink *
mem_sink_new(gboolean keep_bytes)
{
    MemSink *s = g_new0(MemSink, 1);
    s->parent.ops = &mem_ops;
    s->bytes = keep_bytes ? g_byte_array_new() : NULL;
    return s;
}

typedef struct {
    guint64 size;
    guint32 cluster;
    guint32 refbits;
    guint32 version;
    VpPreallocation prealloc;
    gboolean lazy;
    gboolean extl2;
    gboolean zero_flag;
    gboolean backing;
} Case;

static void
roundtrip(const Case *c)
{
    VpImageOptions o;
    VpQcow2Layout l;
    g_autoptr(GError) error = NULL;

    vp_image_options_init(&o);
    o.size = c->size;
    o.cluster_size = c->cluster;
    o.refcount_bits = c->refbits;
    o.version = c->version;
    o.preallocation = c->prealloc;
    o.lazy_refcounts = c->lazy;
    o.extended_l2 = c->extl2;
    o.zero_flag = c->zero_flag;
    if (c->backing) {
        o.backing_file = "base.qcow2";
        o.backing_format = "qcow2";
    }
    g_test_message("size %" G_GUINT64_FORMAT " cluster %u refbits %u v%u "
                   "prealloc %d extl2 %d", c->size, c->cluster, c->refbits,
                   c->version, c->prealloc, c->extl2);
    g_assert_true(vp_qcow2_layout_compute(&o, &l, &error));

    MemSink *sink = mem_sink_new(TRUE);
    g_assert_true(vp_image_emit(&l, &sink->parent, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(sink->committed);
    g_assert_cmpuint(sink->length, ==, l.file_length);
    g_assert_cmpuint(sink->max_write, <=, VP_EMIT_CHUNK);

    VpMemSource src = { sink->bytes->data, sink->bytes->len };
    g_autoptr(VpQcow2Image) img = vp_qcow2_image_open(vp_read_mem, &src,
                                                      sink->length, "mem",
                                                      &error);
    g_assert_no_error(error);
    const VpQcow2Meta *m = vp_qcow2_image_meta(img);
    g_assert_cmpuint(m->version, ==, c->version);
    g_assert_cmpuint(m->cluster_size, ==, c->cluster);
    g_assert_cmpuint(m->refcount_bits, ==, c->refbits);
    g_assert_cmpuint(m->virtual_size, ==, (c->size + 511) / 512 * 512);
    g_assert_cmpint(m->extended_l2, ==, c->extl2);
    g_assert_cmpint((m->compatible_features & 1) != 0, ==, c->lazy);
    if (c->backing) {
        g_assert_cmpstr(m->backing_file, ==, "base.qcow2");
        g_assert_cmpstr(m->backing_format, ==, "qcow2");
    } else {
        g_assert_null(m->backing_file);
    }

    guint64 mapped;
    g_assert_true(vp_qcow2_image_count_mapped(img, &mapped, NULL, 0, NULL,
                                              &error));
    guint64 expect = c->prealloc == VP_PREALLOC_OFF ? 0 : l.guest_clusters;
    g_assert_cmpuint(mapped, ==, expect);

    VpQcow2Check r;
    g_assert_true(vp_qcow2_image_check(img, &r, &error));
    for (guint i = 0; i < r.messages->len; i++) {
        g_test_message("%s", (char *)g_ptr_array_index(r.messages, i));
    }
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaks, ==, 0);
    g_assert_cmpuint(r.check_errors, ==, 0);
    g_assert_cmpuint(r.allocated_clusters, ==, expect);
    g_assert_cmpuint(r.fragmented_clusters, ==, 0);
    g_assert_cmpuint(r.total_clusters, ==, l.guest_clusters);
    g_assert_cmpuint(r.image_end_offset, ==, l.used_clusters * l.cluster_size);
    vp_qcow2_check_clear(&r);
    vp_sink_free(&sink->parent);
}

static void
test_matrix(void)
{
    static const guint32 clusters[] = { 512, 1024, 4096, 16384, 65536, 2097152 };
    static const guint32 widths[] = { 1, 2, 4, 8, 16, 32, 64 };
    static const VpPreallocation modes[] = { VP_PREALLOC_OFF,
                                             VP_PREALLOC_METADATA };

    for (gsize ci = 0; ci < G_N_ELEMENTS(clusters); ci++) {
        guint32 cs = clusters[ci];
        /* One L2 table's reach and one refcount block's reach, +-1 cluster. */
        guint64 l2_reach = (guint64)cs / 8 * cs;
        guint64 rb_reach = (guint64)cs * 8 / 16 * cs;
        guint64 sizes[] = { 0, 512, 1000001 % (64ull * cs), l2_reach - cs,
                            l2_reach + cs, rb_reach - cs, rb_reach + cs };
        for (gsize si = 0; si < G_N_ELEMENTS(sizes); si++) {
            if (sizes[si] > (G_GUINT64_CONSTANT(64) << 20)) {
                continue; /* keeps the in-memory image small */
            }
            for (gsize wi = 0; wi < G_N_ELEMENTS(widths); wi++) {
                for (gsize mi = 0; mi < G_N_ELEMENTS(modes); mi++) {
                    Case c = { .size = sizes[si], .cluster = cs,
                               .refbits = widths[wi], .version = 3,
                               .prealloc = modes[mi] };
                    roundtrip(&c);
                    c.lazy = TRUE;
                    c.zero_flag = TRUE;
                    roundtrip(&c);
                    if (cs >= 16384) {
                        c.extl2 = TRUE;
                        roundtrip(&c);
                        c.backing = TRUE;
                        roundtrip(&c);
                    }
                }
            }
            Case v2 = { .size = sizes[si], .cluster = cs, .refbits = 16,
                        .version = 2, .prealloc = VP_PREALLOC_METADATA };
            roundtrip(&v2);
            v2.prealloc = VP_PREALLOC_OFF;
            v2.backing = cs >= 4096;
            roundtrip(&v2);
        }
    }
}

/* A 4T image streams through the bounded buffer: no write is larger than a
 * chunk, and the bytes written are the metadata alone. */
static void
test_bounded(void)
{
    VpImageOptions o;
    VpQcow2Layout l;
    g_autoptr(GError) error = NULL;

    vp_image_options_init(&o);
    o.size = G_GUINT64_CONSTANT(4) << 40;
    g_assert_true(vp_qcow2_layout_compute(&o, &l, &error));
    MemSink *sink = mem_sink_new(FALSE);
    g_assert_true(vp_image_emit(&l, &sink->parent, NULL, &error));
    g_assert_cmpuint(sink->max_write, <=, VP_EMIT_CHUNK);
    g_assert_cmpuint(sink->length, ==, l.file_length);
    vp_sink_free(&sink->parent);
}

/* A sink failure stops the emitter before commit. */
static void
test_failure_stops(void)
{
    VpImageOptions o;
    VpQcow2Layout l;
    g_autoptr(GError) error = NULL;

    vp_image_options_init(&o);
    o.size = G_GUINT64_CONSTANT(1) << 40;
    g_assert_true(vp_qcow2_layout_compute(&o, &l, &error));
    MemSink *sink = mem_sink_new(FALSE);
    sink->fail_after = 3;
    g_assert_false(vp_image_emit(&l, &sink->parent, NULL, &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_FAILED);
    g_assert_false(sink->committed);
    vp_sink_free(&sink->parent);
}

int
main(int argc, char **argv)
{
    g_setenv("LC_ALL", "C", TRUE);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/roundtrip/matrix", test_matrix);
    g_test_add_func("/roundtrip/bounded-4T", test_bounded);
    g_test_add_func("/roundtrip/sink-failure", test_failure_stops);
    return g_test_run();
}
