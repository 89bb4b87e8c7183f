/* Storage pools and volumes. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "virt-private.h"
#include "domain-xml.h"

/* ---- pools ------------------------------------------------------------ */

void
vp_pool_info_clear(VpPoolInfo *info)
{
    g_free(info->type);
    g_free(info->path);
    *info = (VpPoolInfo){ 0 };
}

virStoragePoolPtr
vp_virt_pool(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    virStoragePoolPtr pool = virStoragePoolLookupByName(vp_virt_conn(virt), name);
    if (pool == NULL) {
        /* A missing pool gets a hint on how to list pools; any other failure
         * keeps libvirt's reason. */
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_POOL) {
            g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                        _("storage pool '%1$s' does not exist; list pools "
                          "with virsh pool-list --all"), name);
            return NULL;
        }
        vp_virt_fail(error, _("cannot look up storage pool '%1$s'"), name);
    }
    return pool;
}

gboolean
vp_virt_pool_info(VpVirt *virt, const char *name, VpPoolInfo *info,
                  GError **error)
{
    VP_VIRT_BUSY(virt);
    *info = (VpPoolInfo){ 0 };
    g_autoptr(virStoragePool) pool = virStoragePoolLookupByName(vp_virt_conn(virt), name);
    if (pool == NULL) {
        /* No pool is an answer here (exists FALSE), not an error: callers may
         * create it. */
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_POOL) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up storage pool '%1$s'"), name);
    }
    info->exists = TRUE;
    info->active = virStoragePoolIsActive(pool) == 1;
    char *xml = virStoragePoolGetXMLDesc(pool, 0);
    if (xml == NULL) {
        return vp_virt_fail(error, _("cannot read storage pool '%1$s'"), name);
    }
    gboolean ok = vp_pool_xml_parse(xml, &info->type, &info->path, error);
    free(xml);
    virStoragePoolInfo pinfo;
    /* Only an active pool reports its free space; otherwise it stays 0. */
    if (ok && info->active && virStoragePoolGetInfo(pool, &pinfo) == 0) {
        info->available_known = TRUE;
        info->available = pinfo.available;
    }
    return ok;
}

gboolean
vp_virt_pool_create_dir(VpVirt *virt, const char *name, const char *path,
                        GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autofree char *xml = vp_pool_dir_xml_build(name, path);
    g_autoptr(virStoragePool) pool = virStoragePoolDefineXML(vp_virt_conn(virt), xml, 0);

    if (pool == NULL) {
        return vp_virt_fail(error, _("cannot define storage pool '%1$s'"), name);
    }
    /* Build creates the directory, create starts the pool, autostart keeps it
     * across daemon restarts as a default pool should be. */
    if (virStoragePoolBuild(pool, 0) < 0 || virStoragePoolCreate(pool, 0) < 0 ||
        virStoragePoolSetAutostart(pool, 1) < 0) {
        vp_virt_fail(error, _("cannot start storage pool '%1$s' at '%2$s'"),
                     name, path);
        /* No half-made pool stays defined: the caller registers its undo only
         * when this succeeds. */
        virStoragePoolDestroy(pool);
        virStoragePoolUndefine(pool);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_virt_pool_remove(VpVirt *virt, const char *name, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, name, error);

    if (pool == NULL) {
        return FALSE;
    }
    /* An inactive pool cannot be destroyed, only undefined. */
    if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0) {
        return vp_virt_fail(error, _("cannot stop storage pool '%1$s'"), name);
    }
    if (virStoragePoolUndefine(pool) < 0) {
        return vp_virt_fail(error, _("cannot undefine storage pool '%1$s'"), name);
    }
    return TRUE;
}

/* ---- volumes ---------------------------------------------------------- */

void
vp_volume_info_clear(VpVolumeInfo *info)
{
    g_free(info->path);
    g_free(info->format);
    *info = (VpVolumeInfo){ 0 };
}

/* How long a refresh waits out other clients' uploads into the pool. */
#define VP_REFRESH_WAIT_MS 60000

/* Refreshes POOL (named NAME).  libvirt refuses while any upload into the
 * pool is still counted as running, including one of another client or
 * one whose end the daemon has not processed yet; that refusal is waited
 * out, anything else is an error.  This connection's own streams are kept
 * out by the stream lock, its volume creations by the pool lock. */
static gboolean
vp_virt_pool_refresh(VpVirt *virt, virStoragePoolPtr pool, const char *name,
                     GError **error)
{
    VP_VIRT_BUSY(virt);
    G_GNUC_UNUSED g_autoptr(GRecMutexLocker) streams =
        g_rec_mutex_locker_new(&virt->stream_lock);
    G_GNUC_UNUSED g_autoptr(GMutexLocker) creations =
        g_mutex_locker_new(vp_virt_pool_lock(virt, name));
    gint64 deadline = g_get_monotonic_time() + VP_REFRESH_WAIT_MS * 1000;
    gulong pause_us = 10 * 1000;

    while (virStoragePoolRefresh(pool, 0) < 0) {
        if (vp_virt_code() != VIR_ERR_INTERNAL_ERROR ||
            strstr(vp_virt_reason(), "asynchronous jobs") == NULL ||
            g_get_monotonic_time() >= deadline) {
            return vp_virt_fail(error, _("cannot refresh storage pool '%1$s'"), name);
        }
        g_usleep(pause_us);
        pause_us = MIN(pause_us * 2, 500 * 1000);
    }
    return TRUE;
}

virStorageVolPtr
vp_virt_volume(VpVirt *virt, const char *pool_name, const char *name,
               gboolean refresh, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);

    if (pool == NULL) {
        return NULL;
    }
    /* Files may have appeared in the pool behind libvirt's back. */
    if (refresh && !vp_virt_pool_refresh(virt, pool, pool_name, error)) {
        return NULL;
    }
    /* Without a refresh the lookup sees what libvirt already knows, which
     * is cheap; callers ask for the refresh where a stale answer would
     * mislead. */
    virStorageVolPtr vol = virStorageVolLookupByName(pool, name);
    if (vol == NULL) {
        vp_virt_fail(error, _("cannot find volume '%1$s' in pool '%2$s'"), name,
                     pool_name);
    }
    return vol;
}

gboolean
vp_virt_volume_exists(VpVirt *virt, const char *pool_name, const char *name,
                      gboolean *exists, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);

    if (pool == NULL) {
        return FALSE;
    }
    /* No pool refresh: it probes every image in the pool, which costs a
     * CI lab's big pools dearly.  A file libvirt does not know yet makes the
     * volume creation fail instead, before anything is written. */
    g_autoptr(virStorageVol) vol = virStorageVolLookupByName(pool, name);
    if (vol == NULL && vp_virt_code() != VIR_ERR_NO_STORAGE_VOL) {
        return vp_virt_fail(error, _("cannot look up volume '%1$s'"), name);
    }
    *exists = vol != NULL;
    return TRUE;
}

char *
vp_virt_volume_create(VpVirt *virt, const char *pool_name, const char *name,
                      guint64 capacity, gboolean *created, GError **error)
{
    VP_VIRT_BUSY(virt);
    *created = FALSE;
    g_autoptr(virStoragePool) pool = vp_virt_pool(virt, pool_name, error);
    g_autofree char *xml = vp_volume_xml_build(name, capacity);

    if (pool == NULL) {
        return NULL;
    }
    /* Created empty and raw, then filled by the upload: libvirt then writes no
     * byte of the image itself, and after the upload it refreshes the volume
     * and probes the qcow2 header, reporting format and virtual size (seen
     * with libvirt 9.0). */
    GMutex *pool_lock = vp_virt_pool_lock(virt, pool_name);
    g_mutex_lock(pool_lock);
    g_autoptr(virStorageVol) vol = virStorageVolCreateXML(pool, xml, 0);
    g_mutex_unlock(pool_lock);
    if (vol == NULL) {
        vp_virt_fail(error, _("cannot create volume '%1$s' in pool '%2$s'"),
                     name, pool_name);
        return NULL;
    }
    *created = TRUE;
    /* A second call: the daemon may go away between the two, and then the
     * volume exists but its path is unknown (seen when the daemon was
     * killed right after the create). */
    char *path = virStorageVolGetPath(vol);
    if (path == NULL) {
        vp_virt_fail(error, _("created volume '%1$s' in pool '%2$s' but cannot "
                              "read its path"), name, pool_name);
        return NULL;
    }
    /* libvirt allocates with malloc: freed with free, the copy is the caller's
     * g_free-able string. */
    char *result = g_strdup(path);
    free(path);
    return result;
}

gboolean
vp_virt_volume_delete(VpVirt *virt, const char *pool_name, const char *name,
                      GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, FALSE,
                                                  error);

    if (vol == NULL) {
        return FALSE;
    }
    /* Also the undo of vp_virt_volume_create, hence the same pool and name. */
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(vp_virt_pool_lock(virt, pool_name));
    if (virStorageVolDelete(vol, 0) < 0) {
        return vp_virt_fail(error, _("cannot delete volume '%1$s'"), name);
    }
    return TRUE;
}

gboolean
vp_virt_volume_info(VpVirt *virt, const char *pool_name, const char *name,
                    gboolean refresh, VpVolumeInfo *info, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool_name, name, refresh,
                                                  error);
    virStorageVolInfo vinfo;

    *info = (VpVolumeInfo){ 0 };
    if (vol == NULL) {
        return FALSE;
    }
    /* The file length tells whether every byte arrived (ext4 stops at 16 TiB);
     * the plain allocation is what the disk really holds, asked for
     * separately. */
    if (virStorageVolGetInfoFlags(vol, &vinfo, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
        return vp_virt_fail(error, _("cannot read volume '%1$s'"), name);
    }
    info->capacity = vinfo.capacity;
    info->physical = vinfo.allocation; /* with GET_PHYSICAL: the file length */
    if (virStorageVolGetInfo(vol, &vinfo) == 0) {
        info->allocation = vinfo.allocation;
    }
    char *xml = virStorageVolGetXMLDesc(vol, 0);
    if (xml == NULL) {
        return vp_virt_fail(error, _("cannot read volume '%1$s'"), name);
    }
    gboolean ok = vp_volume_xml_parse(xml, &info->path, &info->format, error);
    free(xml);
    return ok;
}

void
vp_volume_ref_clear(VpVolumeRef *ref)
{
    g_free(ref->pool);
    g_free(ref->name);
    g_free(ref->path);
    g_free(ref->format);
    *ref = (VpVolumeRef){ 0 };
}

static gboolean
vp_virt_fill_ref(virStorageVolPtr vol, VpVolumeRef *ref, GError **error)
{
    g_autoptr(virStoragePool) pool = virStoragePoolLookupByVolume(vol);
    virStorageVolInfo info;
    char *xml = virStorageVolGetXMLDesc(vol, 0);

    if (pool == NULL || xml == NULL || virStorageVolGetInfo(vol, &info) < 0) {
        free(xml);
        return vp_virt_fail(error, _("cannot read volume '%1$s'"),
                            virStorageVolGetName(vol));
    }
    ref->pool = g_strdup(virStoragePoolGetName(pool));
    ref->name = g_strdup(virStorageVolGetName(vol));
    ref->capacity = info.capacity;
    ref->physical = info.allocation;
    /* A daemon too old for GET_PHYSICAL keeps the allocation instead. */
    if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) == 0) {
        ref->physical = info.allocation;
    }
    gboolean ok = vp_volume_xml_parse(xml, &ref->path, &ref->format, error);
    free(xml);
    return ok;
}

gboolean
vp_virt_volume_by_path(VpVirt *virt, const char *path, VpVolumeRef *ref,
                       gboolean *found, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStorageVol) vol = virStorageVolLookupByPath(vp_virt_conn(virt), path);

    *ref = (VpVolumeRef){ 0 };
    *found = vol != NULL;
    if (vol == NULL) {
        /* A path in no pool is a normal answer (a plain file), not an
         * error. */
        if (vp_virt_code() == VIR_ERR_NO_STORAGE_VOL) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up the volume at '%1$s'"), path);
    }
    return vp_virt_fill_ref(vol, ref, error);
}

gboolean
vp_virt_volume_by_name(VpVirt *virt, const char *pool, const char *name,
                       VpVolumeRef *ref, GError **error)
{
    VP_VIRT_BUSY(virt);
    /* Refreshed: the volume may have changed since libvirt last looked, as
     * right after an upload. */
    g_autoptr(virStorageVol) vol = vp_virt_volume(virt, pool, name, TRUE, error);

    *ref = (VpVolumeRef){ 0 };
    return vol != NULL && vp_virt_fill_ref(vol, ref, error);
}
