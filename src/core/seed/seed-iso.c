/* The seed's ISO 9660 image (vp_seed_iso in seed.h), built in memory with
 * libisofs: the same seed gives the same bytes on every run. */
#include "seed.h"

#include <stdint.h> /* libisofs.h uses uint32_t without including it */
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

/* libisofs carries its own copy of libburn's struct burn_source; we read
 * the image from it and never link libburn. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

#include "error.h"

/* Fixed times of every node and volume descriptor: 2000-01-01 00:00:00 UTC,
 * so that the same seed is the same ISO, byte for byte, on every run. */
#define VP_SEED_EPOCH ((time_t)946684800)
#define VP_SEED_EPOCH_UUID "2000010100000000"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoImage, iso_image_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IsoWriteOpts, iso_write_opts_free)

static gboolean
vp_iso_failed(int ret, GError **error)
{
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("cannot build the seed image: %1$s"), iso_error_to_msg(ret));
    return FALSE;
}

static gpointer
vp_iso_init_once(gpointer data)
{
    int ret = iso_init();
    if (ret >= 0) {
        /* libisofs prints to stderr by default; we report through GError. */
        iso_set_msgs_severities("NEVER", "NEVER", "libisofs");
    }
    return GINT_TO_POINTER(ret);
}

/* Adds NAME holding BYTES to DIR: mode, owner and times fixed. */
static gboolean
vp_iso_add(IsoImage *image, IsoDir *dir, const char *name, GBytes *bytes,
           GError **error)
{
    gsize len = 0;
    const void *data = g_bytes_get_data(bytes, &len);
    /* libisofs frees the buffer with free(). */
    unsigned char *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        g_error("out of memory");
    }
    memcpy(copy, data, len);
    IsoStream *stream = NULL;
    int ret = iso_memory_stream_new(copy, len, &stream);
    if (ret < 0) {
        free(copy);
        return vp_iso_failed(ret, error);
    }
    IsoFile *file = NULL;
    /* The new file takes over our reference to the stream. */
    ret = iso_image_add_new_file(image, dir, name, stream, &file);
    if (ret < 0) {
        iso_stream_unref(stream);
        return vp_iso_failed(ret, error);
    }
    IsoNode *node = (IsoNode *)file;
    iso_node_set_permissions(node, 0444);
    iso_node_set_uid(node, 0);
    iso_node_set_gid(node, 0);
    iso_node_set_atime(node, VP_SEED_EPOCH);
    iso_node_set_mtime(node, VP_SEED_EPOCH);
    iso_node_set_ctime(node, VP_SEED_EPOCH);
    return TRUE;
}

GBytes *
vp_seed_iso(const VpSeed *seed, GError **error)
{
    static GOnce init = G_ONCE_INIT;
    /* One image at a time: libisofs keeps process-wide state (its message
     * queue, the image's writer thread) and a lab builds seeds from several
     * threads.  An image takes milliseconds. */
    static GMutex lock;
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&lock);
    int ret = GPOINTER_TO_INT(g_once(&init, vp_iso_init_once, NULL));
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }

    g_autoptr(IsoImage) image = NULL;
    ret = iso_image_new("cidata", &image);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    iso_image_set_volume_id(image, "cidata");
    IsoDir *root = iso_image_get_root(image);
    IsoNode *root_node = (IsoNode *)root;
    iso_node_set_permissions(root_node, 0555);
    iso_node_set_uid(root_node, 0);
    iso_node_set_gid(root_node, 0);
    iso_node_set_atime(root_node, VP_SEED_EPOCH);
    iso_node_set_mtime(root_node, VP_SEED_EPOCH);
    iso_node_set_ctime(root_node, VP_SEED_EPOCH);
    GBytes *network_config = vp_seed_get_network_config(seed);
    if (!vp_iso_add(image, root, "user-data", vp_seed_get_user_data(seed),
                    error) ||
        !vp_iso_add(image, root, "meta-data", vp_seed_get_meta_data(seed),
                    error) ||
        (network_config != NULL &&
         !vp_iso_add(image, root, "network-config", network_config, error))) {
        return NULL;
    }

    /* Profile 2: Rock Ridge and Joliet, as cloud-init needs one of them to
     * find "user-data" (plain ISO 9660 names are USER_DAT.;1).  Its
     * defaults stamp the recording time; fix every time instead. */
    g_autoptr(IsoWriteOpts) wopts = NULL;
    ret = iso_write_opts_new(&wopts, 2);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    /* ISO 9660 proper allows only upper case in the volume id; keep the
     * "cidata" that genisoimage -V and cloud-init's documentation write
     * (cloud-init looks for either case). */
    iso_write_opts_set_relaxed_vol_atts(wopts, 1);
    /* Joliet names exactly "user-data", not "user-data.;1": no forced dot
     * and no version number there (plain ISO 9660 names keep both, as that
     * standard wants). */
    iso_write_opts_set_omit_version_numbers(wopts, 2);
    iso_write_opts_set_no_force_dots(wopts, 2);
    iso_write_opts_set_replace_timestamps(wopts, 2);
    iso_write_opts_set_default_timestamp(wopts, VP_SEED_EPOCH);
    iso_write_opts_set_always_gmt(wopts, 1);
    iso_write_opts_set_pvd_times(wopts, VP_SEED_EPOCH, VP_SEED_EPOCH, 0, 0,
                                 (char *)VP_SEED_EPOCH_UUID);

    struct burn_source *src = NULL;
    ret = iso_image_create_burn_source(image, wopts, &src);
    if (ret < 0) {
        vp_iso_failed(ret, error);
        return NULL;
    }
    /* The size is known before the first byte; the seed files are capped,
     * so it is a few MiB at most. */
    off_t size = src->get_size(src);
    g_autoptr(GByteArray) iso = g_byte_array_sized_new(size > 0 ? (guint)size : 0);
    guchar block[2048];
    int n;
    while ((n = src->read_xt(src, block, sizeof(block))) > 0) {
        g_byte_array_append(iso, block, (guint)n);
    }
    src->free_data(src);
    free(src);
    if (n < 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot build the seed image: libisofs failed while writing it"));
        return NULL;
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&iso));
}

