/* Resolving the base of an overlay: see base.h.
 *
 * The base's own format comes from its header (and must agree with what
 * libvirt's probe says); every lower level's format is the one its parent
 * records, and each level must be a volume of a pool on the host, so even
 * a hostile header cannot point the overlay at an arbitrary host file. */
#include "base.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-reader.h"

/* The header, its extensions and the backing file name sit in the first
 * cluster; 2 MiB covers the largest cluster qemu allows. */
#define VP_BASE_HEAD_BYTES (2u << 20)
/* As qemu's own limit on chain depth is generous, a chain deeper than this
 * is a loop or an attack rather than a real image. */
#define VP_BASE_MAX_DEPTH 16

void
vp_base_info_clear(VpBaseInfo *base)
{
    g_free(base->pool);
    g_free(base->volume);
    g_free(base->path);
    g_free(base->format);
    g_clear_pointer(&base->chain, g_ptr_array_unref);
    *base = (VpBaseInfo){ 0 };
}

/* What one level's header says: its format as the tool reads it (qcow2
 * magic or not), and for qcow2 its virtual size and backing file. */
typedef struct {
    gboolean qcow2;
    guint64 virtual_size;
    char *backing_file;
    char *backing_format;
} VpLevelHead;

static void
vp_level_head_clear(VpLevelHead *h)
{
    g_free(h->backing_file);
    g_free(h->backing_format);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpLevelHead, vp_level_head_clear)

static gboolean
vp_read_level(VpVirt *virt, const VpVolumeRef *ref, VpLevelHead *head,
              GError **error)
{
    gsize want = (gsize)MIN(ref->physical, (guint64)VP_BASE_HEAD_BYTES);
    g_autoptr(GBytes) bytes = vp_virt_volume_read_head(virt, ref->pool,
                                                       ref->name, want, error);
    if (bytes == NULL) {
        return FALSE;
    }
    gsize len;
    VpMemSource mem = { .data = g_bytes_get_data(bytes, &len) };
    mem.len = len;
    if (!vp_qcow2_probe(vp_read_mem, &mem, &head->qcow2, error)) {
        return FALSE;
    }
    if (!head->qcow2) {
        return TRUE;
    }
    /* Tables beyond the head read as zeros: only the header matters here,
     * and the reader validates every field of it before use. */
    g_autoptr(VpQcow2Image) img = vp_qcow2_image_open(vp_read_mem, &mem,
                                                      ref->physical, ref->name,
                                                      error);
    if (img == NULL) {
        return FALSE;
    }
    const VpQcow2Meta *m = vp_qcow2_image_meta(img);
    head->virtual_size = m->virtual_size;
    head->backing_file = g_strdup(m->backing_file);
    head->backing_format = g_strdup(m->backing_format);
    return TRUE;
}

/* The volume a backing name of the level at PATH refers to: relative names
 * are relative to that level's directory, as qemu resolves them. */
static gboolean
vp_find_backing(VpVirt *virt, const char *path, const char *backing,
                VpVolumeRef *ref, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *full = g_path_is_absolute(backing)
                                ? g_strdup(backing)
                                : g_build_filename(dir, backing, NULL);
    gboolean found = FALSE;

    if (!vp_virt_volume_by_path(virt, full, ref, &found, error)) {
        return FALSE;
    }
    if (!found) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("'%1$s' names the backing file '%2$s', which is not a "
                      "volume of any pool on this host; import it into a "
                      "pool first"), path, full);
        return FALSE;
    }
    return TRUE;
}

static gboolean
vp_check_libvirt_format(const VpVolumeRef *ref, gboolean qcow2,
                        GError **error)
{
    const char *seen = qcow2 ? "qcow2" : "raw";

    /* libvirt probes a file pool's volumes too; where it names another
     * format (iso, vmdk, ...) the tool does not read it, and where it
     * disagrees with the header the image is not what it seems. */
    if (ref->format == NULL || g_str_equal(ref->format, seen)) {
        return TRUE;
    }
    if (!g_str_equal(ref->format, "qcow2") && !g_str_equal(ref->format, "raw")) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("base volume '%1$s' is %2$s; a base must be a qcow2 or "
                      "raw image"), ref->name, ref->format);
    } else {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("libvirt reports volume '%1$s' as %2$s, but its header "
                      "says %3$s; check the image with virt-provision info"),
                    ref->name, ref->format, seen);
    }
    return FALSE;
}

gboolean
vp_base_resolve(const VpRunEnv *run, VpVirt *virt, const char *default_pool,
                const char *spec, VpBaseInfo *base, GError **error)
{
    const char *slash = strchr(spec, '/');
    g_auto(VpVolumeRef) ref = { 0 };
    gboolean exists = FALSE;

    *base = (VpBaseInfo){ 0 };
    base->pool = slash != NULL ? g_strndup(spec, (gsize)(slash - spec))
                               : g_strdup(default_pool);
    base->volume = g_strdup(slash != NULL ? slash + 1 : spec);
    if (base->pool[0] == '\0' || base->volume[0] == '\0') {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid base '%1$s': name a volume, or POOL/VOLUME"),
                    spec);
        return FALSE;
    }
    /* Asked first so that a missing base gets its own message, with the way to
     * put one there, rather than libvirt's look-up error. */
    if (!vp_virt_volume_exists(virt, base->pool, base->volume, &exists, error)) {
        return FALSE;
    }
    if (!exists) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("base volume '%1$s' is not in pool '%2$s'; put an image "
                      "there with virt-provision import FILE %3$s %2$s"),
                    base->volume, base->pool,
                    vp_run_option(run, VP_OPTION_ERROR_POOL));
        return FALSE;
    }
    if (!vp_virt_volume_by_name(virt, base->pool, base->volume, &ref, error)) {
        return FALSE;
    }
    base->path = g_strdup(ref.path);
    base->chain = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vp_backing_level_free);

    /* Walk down the chain: each level's format is the one its parent's
     * header records (the base's own comes from its header). */
    const char *format = NULL;
    for (int depth = 0;; depth++) {
        g_auto(VpLevelHead) head = { 0 };
        if (depth == VP_BASE_MAX_DEPTH) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("the backing chain of base '%1$s' is more than %2$d "
                          "levels deep"), base->volume, VP_BASE_MAX_DEPTH);
            return FALSE;
        }
        /* A level recorded as raw is raw whatever its first bytes say: a
         * guest may have written a qcow2 header into its disk, and reading
         * that header would let the guest choose what the host opens. */
        gboolean recorded_raw = format != NULL && g_str_equal(format, "raw");
        if (!recorded_raw && (!vp_read_level(virt, &ref, &head, error) ||
                              !vp_check_libvirt_format(&ref, head.qcow2, error))) {
            return FALSE;
        }
        const char *found = head.qcow2 ? "qcow2" : "raw";
        if (format != NULL && !g_str_equal(format, found)) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("the chain of base '%1$s' says '%2$s' is %3$s, but "
                          "its header says %4$s"),
                        base->volume, ref.path, format, found);
            return FALSE;
        }
        g_ptr_array_add(base->chain, vp_backing_level_new(ref.path, found, FALSE));
        if (depth == 0) {
            base->format = g_strdup(found);
            base->virtual_size = head.qcow2 ? head.virtual_size : ref.capacity;
        }
        if (head.backing_file == NULL) {
            return TRUE;
        }
        if (head.backing_format == NULL) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("'%1$s' does not record the format of its backing "
                          "file '%2$s', and formats are never guessed; record "
                          "it with qemu-img rebase -u -b '%2$s' -F FORMAT "
                          "'%1$s'"), ref.path, head.backing_file);
            return FALSE;
        }
        g_auto(VpVolumeRef) next = { 0 };
        if (!vp_find_backing(virt, ref.path, head.backing_file, &next, error)) {
            return FALSE;
        }
        /* Interned: FORMAT outlives HEAD, which is cleared each round. */
        format = g_intern_string(head.backing_format);
        /* NEXT is emptied after the move, so that its cleanup frees nothing
         * REF now owns. */
        vp_volume_ref_clear(&ref);
        ref = next;
        next = (VpVolumeRef){ 0 };
    }
}
