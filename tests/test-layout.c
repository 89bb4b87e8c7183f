/* Layout arithmetic: figures checked against images qemu-img 7.2 wrote, the
 * self-counting refcount structures, and option validation. */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "qcow2-layout.h"

#define GiB (G_GUINT64_CONSTANT(1) << 30)
#define TiB (G_GUINT64_CONSTANT(1) << 40)

static VpQcow2Layout
layout_of(guint64 size, VpPreallocation prealloc, guint32 cluster)
{
    VpImageOptions o;
    VpQcow2Layout l;
    g_autoptr(GError) error = NULL;

    vp_image_options_init(&o);
    o.size = size;
    o.preallocation = prealloc;
    o.cluster_size = cluster;
    g_assert_true(vp_qcow2_layout_compute(&o, &l, &error));
    g_assert_no_error(error);
    return l;
}

/* qemu-img create -o preallocation=metadata file lengths (shared notes). */
static void
test_file_length_matches_qemu(void)
{
    VpQcow2Layout l = layout_of(GiB, VP_PREALLOC_METADATA, 65536);
    g_assert_cmpuint(l.file_length, ==, G_GUINT64_CONSTANT(1074135040));
    l = layout_of(20 * GiB, VP_PREALLOC_METADATA, 65536);
    g_assert_cmpuint(l.file_length, ==, G_GUINT64_CONSTANT(21478375424));
    /* off: three clusters plus the L1 table, not cluster aligned. */
    l = layout_of(20 * GiB, VP_PREALLOC_OFF, 65536);
    g_assert_cmpuint(l.file_length, ==, 196928);
    g_assert_cmpuint(l.l1_size, ==, 40);
}

static void
test_refcounts_cover_themselves(void)
{
    static const guint32 clusters[] = { 512, 4096, 65536, 2097152 };
    static const guint32 widths[] = { 1, 2, 4, 8, 16, 32, 64 };
    static const guint64 sizes[] = { 0, 512, 1000001, 32768, 131072,
                                     GiB + 7, 20 * GiB };

    for (gsize c = 0; c < G_N_ELEMENTS(clusters); c++) {
        for (gsize w = 0; w < G_N_ELEMENTS(widths); w++) {
            for (gsize s = 0; s < G_N_ELEMENTS(sizes); s++) {
                VpImageOptions o;
                VpQcow2Layout l;
                g_autoptr(GError) error = NULL;
                vp_image_options_init(&o);
                o.size = sizes[s];
                o.cluster_size = clusters[c];
                o.refcount_bits = widths[w];
                if (!vp_qcow2_layout_compute(&o, &l, &error)) {
                    /* Only the refcount-table cap may refuse these. */
                    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
                    g_assert_cmpuint(clusters[c], ==, 512);
                    continue;
                }
                /* Enough blocks for every cluster, and no spare block. */
                g_assert_cmpuint(l.refblock_count * l.refblock_entries, >=,
                                 l.used_clusters);
                g_assert_cmpuint((l.refblock_count - 1) * l.refblock_entries, <,
                                 l.used_clusters);
                g_assert_cmpuint(l.reftable_clusters * l.cluster_size / 8, >=,
                                 l.refblock_count);
                g_assert_cmpuint(l.used_clusters * l.cluster_size, ==,
                                 l.data_offset + l.data_clusters * l.cluster_size);
                g_assert_cmpuint(l.guest_clusters * l.cluster_size, >=,
                                 l.virtual_size);
                g_assert_cmpuint(l.virtual_size % 512, ==, 0);
                /* The data area starts on a 4 KiB boundary. */
                if (l.data_clusters > 0) {
                    g_assert_cmpuint(l.data_offset % 4096, ==, 0);
                }
                g_assert_cmpuint(l.gap_clusters * l.cluster_size, <, 4096);
            }
        }
    }
}

static void
test_limits(void)
{
    /* 512-byte clusters address 128 GiB, 64K clusters 2 PiB. */
    g_assert_cmpuint(vp_qcow2_layout_max_size(512, FALSE), ==, 128 * GiB);
    g_assert_cmpuint(vp_qcow2_layout_max_size(65536, FALSE), ==, 2048 * TiB);
    g_assert_cmpuint(vp_qcow2_layout_max_size(65536, TRUE), ==, 1024 * TiB);
}

typedef struct {
    const char *name;
    void (*tweak)(VpImageOptions *o);
    VpOptionErrorCode code;
    const char *needle; /* in the message */
} VpRefusal;

static void cs_3000(VpImageOptions *o) { o->cluster_size = 3000; }
static void cs_256(VpImageOptions *o) { o->cluster_size = 256; }
static void cs_4m(VpImageOptions *o) { o->cluster_size = 4 << 20; }
static void rb_3(VpImageOptions *o) { o->refcount_bits = 3; }
static void rb_128(VpImageOptions *o) { o->refcount_bits = 128; }
static void v2_rb8(VpImageOptions *o) { o->version = 2; o->refcount_bits = 8; }
static void v2_lazy(VpImageOptions *o) { o->version = 2; o->lazy_refcounts = TRUE; }
static void v2_extl2(VpImageOptions *o) { o->version = 2; o->extended_l2 = TRUE; }
static void extl2_8k(VpImageOptions *o) { o->extended_l2 = TRUE; o->cluster_size = 8192; }
static void too_big(VpImageOptions *o) { o->cluster_size = 512; o->size = 129 * GiB; }
static void overflow(VpImageOptions *o) { o->size = G_MAXUINT64; }
static void backing_no_fmt(VpImageOptions *o) { o->backing_file = "b"; o->preallocation = VP_PREALLOC_OFF; }
static void backing_prealloc(VpImageOptions *o) { o->backing_file = "b"; o->backing_format = "raw"; }
static void raw_metadata(VpImageOptions *o) { o->format = VP_FORMAT_RAW; }

/* Each refusal names the option it is about by code, not by a spelling:
 * the core serves the command line and lab manifests alike, so a message
 * of its own never contains "--". */
static const VpRefusal refusals[] = {
    { "cluster-3000", cs_3000, VP_OPTION_ERROR_CLUSTER_SIZE, "cluster size 3000" },
    { "cluster-256", cs_256, VP_OPTION_ERROR_CLUSTER_SIZE, "cluster size 256" },
    { "cluster-4M", cs_4m, VP_OPTION_ERROR_CLUSTER_SIZE, "cluster size" },
    { "refcount-3", rb_3, VP_OPTION_ERROR_REFCOUNT_BITS, "refcount width 3" },
    { "refcount-128", rb_128, VP_OPTION_ERROR_REFCOUNT_BITS, "refcount width 128" },
    { "v2-refcount-8", v2_rb8, VP_OPTION_ERROR_COMPAT, "compat 1.1" },
    { "v2-lazy", v2_lazy, VP_OPTION_ERROR_COMPAT, "lazy refcounts" },
    { "v2-extended-l2", v2_extl2, VP_OPTION_ERROR_COMPAT, "extended L2" },
    { "extended-l2-8k", extl2_8k, VP_OPTION_ERROR_EXTENDED_L2, "16K" },
    { "too-big-for-512", too_big, VP_OPTION_ERROR_SIZE, "larger clusters" },
    { "overflow", overflow, VP_OPTION_ERROR_SIZE, "16 EiB" },
    { "backing-without-format", backing_no_fmt, VP_OPTION_ERROR_BACKING_FORMAT,
      "never guessed" },
    { "backing-with-prealloc", backing_prealloc, VP_OPTION_ERROR_PREALLOCATION,
      "extended L2" },
    { "raw-metadata", raw_metadata, VP_OPTION_ERROR_PREALLOCATION, "raw" },
};

static void
test_refusal(gconstpointer data)
{
    const VpRefusal *r = data;
    VpImageOptions o;
    VpQcow2Layout l;
    g_autoptr(GError) error = NULL;

    vp_image_options_init(&o);
    o.size = GiB;
    r->tweak(&o);
    g_assert_false(vp_qcow2_layout_compute(&o, &l, &error));
    g_assert_error(error, VP_OPTION_ERROR, (gint)r->code);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, r->needle));
    g_assert_null(strstr(error->message, "--"));
    g_assert_null(strchr(error->message, '\n'));
}

int
main(int argc, char **argv)
{
    g_setenv("LC_ALL", "C", TRUE);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/layout/file-length/qemu", test_file_length_matches_qemu);
    g_test_add_func("/layout/refcounts/self", test_refcounts_cover_themselves);
    g_test_add_func("/layout/limits", test_limits);
    for (gsize i = 0; i < G_N_ELEMENTS(refusals); i++) {
        g_autofree char *path = g_strdup_printf("/layout/refuse/%s",
                                                refusals[i].name);
        g_test_add_data_func(path, &refusals[i], test_refusal);
    }
    return g_test_run();
}
