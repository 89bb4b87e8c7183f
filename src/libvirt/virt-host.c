/* What a host holds, read for proofs: which daemon it is, the definitions
 * of its domains by UUID, the volumes of a pool with their backing files.
 * A lab decides from these what it may delete (lab-proof.h). */
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "virt-private.h"
#include "xml-util.h"

gboolean
vp_virt_host_identity(VpVirt *virt, char **hostname, GPtrArray **uuids,
                      GError **error)
{
    VP_VIRT_BUSY(virt);
    virConnectPtr conn = vp_virt_conn(virt);
    virStoragePoolPtr *pools = NULL;
    virNetworkPtr *nets = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    *hostname = NULL;
    *uuids = NULL;
    char *name = virConnectGetHostname(conn);
    if (name == NULL) {
        return vp_virt_fail(error, _("cannot read the host name of '%1$s'"),
                            virt->actual_uri);
    }
    g_autofree char *host = vp_virt_take(name);
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    if (n < 0 && vp_virt_code() != VIR_ERR_NO_SUPPORT) {
        return vp_virt_fail(error, _("cannot list the storage pools of '%1$s'"),
                            virt->actual_uri);
    }
    for (int i = 0; i < n; i++) {
        if (virStoragePoolGetUUIDString(pools[i], uuid) == 0) {
            g_ptr_array_add(found, g_strdup(uuid));
        }
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    n = virConnectListAllNetworks(conn, &nets, 0);
    if (n < 0 && vp_virt_code() != VIR_ERR_NO_SUPPORT) {
        return vp_virt_fail(error, _("cannot list the networks of '%1$s'"),
                            virt->actual_uri);
    }
    for (int i = 0; i < n; i++) {
        if (virNetworkGetUUIDString(nets[i], uuid) == 0) {
            g_ptr_array_add(found, g_strdup(uuid));
        }
        virNetworkFree(nets[i]);
    }
    free(nets);
    *hostname = g_steal_pointer(&host);
    *uuids = g_steal_pointer(&found);
    return TRUE;
}

void
vp_domain_defs_free(VpDomainDefs *defs)
{
    if (defs == NULL) {
        return;
    }
    g_free(defs->uuid);
    g_free(defs->name);
    g_free(defs->xml);
    g_free(defs->live_xml);
    g_free(defs);
}

/* DOM's definitions; NULL with an error when it cannot be read, NULL
 * without one when the domain vanished meanwhile. */
static VpDomainDefs *
vp_domain_defs(virDomainPtr dom, GError **error)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(VpDomainDefs) d = g_new0(VpDomainDefs, 1);
    int active = virDomainIsActive(dom);
    char *xml = NULL;

    if (active >= 0 && virDomainGetUUIDString(dom, uuid) == 0) {
        d->uuid = g_strdup(uuid);
        d->name = g_strdup(virDomainGetName(dom));
        d->active = active == 1;
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    }
    if (xml != NULL) {
        d->xml = vp_virt_take(xml);
        xml = d->active ? virDomainGetXMLDesc(dom, 0) : NULL;
        d->live_xml = xml != NULL ? vp_virt_take(xml) : NULL;
    }
    if (d->xml == NULL || (d->active && d->live_xml == NULL)) {
        if (vp_virt_code() != VIR_ERR_NO_DOMAIN) {
            vp_virt_fail(error, _("cannot read the definition of domain '%1$s'"),
                         virDomainGetName(dom));
        }
        return NULL;
    }
    return g_steal_pointer(&d);
}

gboolean
vp_virt_domain_defs_by_uuid(VpVirt *virt, const char *uuid,
                            VpDomainDefs **defs, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(vp_virt_conn(virt),
                                                           uuid);
    g_autoptr(GError) local = NULL;

    *defs = NULL;
    if (dom == NULL) {
        if (vp_virt_code() == VIR_ERR_NO_DOMAIN) {
            return TRUE;
        }
        return vp_virt_fail(error, _("cannot look up the domain of UUID '%1$s'"),
                            uuid);
    }
    *defs = vp_domain_defs(dom, &local);
    if (local != NULL) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

GPtrArray *
vp_virt_domain_defs_all(VpVirt *virt, GError **error)
{
    VP_VIRT_BUSY(virt);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(vp_virt_conn(virt), &doms, 0);

    if (n < 0) {
        vp_virt_fail(error, _("cannot list the domains of '%1$s'"),
                     virt->actual_uri);
        return NULL;
    }
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_domain_defs_free);
    g_autoptr(GError) local = NULL;
    for (int i = 0; i < n; i++) {
        VpDomainDefs *d = local == NULL ? vp_domain_defs(doms[i], &local) : NULL;
        if (d != NULL) {
            g_ptr_array_add(list, d);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    if (local != NULL) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    return g_steal_pointer(&list);
}

/* Looks up the domain of UUID for a change; NULL with an error naming
 * the UUID when there is none. */
static virDomainPtr
vp_domain_by_uuid(VpVirt *virt, const char *uuid, GError **error)
{
    VP_VIRT_BUSY(virt);
    virDomainPtr dom = virDomainLookupByUUIDString(vp_virt_conn(virt), uuid);

    if (dom == NULL) {
        vp_virt_fail(error, _("cannot find the domain of UUID '%1$s'"), uuid);
    }
    return dom;
}

gboolean
vp_virt_domain_stop_by_uuid(VpVirt *virt, const char *uuid, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_domain_by_uuid(virt, uuid, error);

    if (dom == NULL) {
        return FALSE;
    }
    int active = virDomainIsActive(dom);
    if (active < 0 || (active == 1 && virDomainDestroy(dom) < 0)) {
        return vp_virt_fail(error, _("cannot stop domain '%1$s'"),
                            virDomainGetName(dom));
    }
    return TRUE;
}

gboolean
vp_virt_domain_undefine_by_uuid(VpVirt *virt, const char *uuid,
                                GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virDomain) dom = vp_domain_by_uuid(virt, uuid, error);

    if (dom == NULL) {
        return FALSE;
    }
    if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                    VIR_DOMAIN_UNDEFINE_NVRAM) < 0) {
        return vp_virt_fail(error, _("cannot undefine domain '%1$s'"),
                            virDomainGetName(dom));
    }
    return TRUE;
}

/* A call about a volume failed: the volume or its file is gone when the
 * host still answers, else the host is lost. */
static gboolean
vp_volume_gone(VpVirt *virt)
{
    return vp_virt_code() == VIR_ERR_NO_STORAGE_VOL ||
           virConnectIsAlive(vp_virt_conn(virt)) == 1;
}

/* POOL, active; *P NULL (and TRUE) when there is no such pool. */
static gboolean
vp_active_pool(VpVirt *virt, const char *pool, virStoragePoolPtr *p,
               GError **error)
{
    VP_VIRT_BUSY(virt);
    *p = virStoragePoolLookupByName(vp_virt_conn(virt), pool);
    if (*p == NULL) {
        return vp_virt_code() == VIR_ERR_NO_STORAGE_POOL ||
               vp_virt_fail(error, _("cannot look up storage pool '%1$s'"), pool);
    }
    if (virStoragePoolIsActive(*p) != 1) {
        g_clear_pointer(p, virStoragePoolFree);
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("storage pool '%1$s' is not active; start it with virsh "
                      "pool-start %1$s"), pool);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_virt_volume_path(VpVirt *virt, const char *pool, const char *name,
                    char **path, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) p = NULL;
    virStorageVolInfo info;

    *path = NULL;
    if (!vp_active_pool(virt, pool, &p, error)) {
        return FALSE;
    }
    if (p == NULL) {
        return TRUE;
    }
    g_autoptr(virStorageVol) vol = virStorageVolLookupByName(p, name);
    char *text = vol != NULL && virStorageVolGetInfo(vol, &info) == 0
                     ? virStorageVolGetPath(vol)
                     : NULL;
    if (text == NULL) {
        return vp_volume_gone(virt) ||
               vp_virt_fail(error, _("cannot look up volume '%1$s' in pool "
                                     "'%2$s'"), name, pool);
    }
    *path = vp_virt_take(text);
    return TRUE;
}

gboolean
vp_virt_pool_backing(VpVirt *virt, const char *pool, GHashTable *backing,
                     GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) p = NULL;
    virStorageVolPtr *vols = NULL;

    if (!vp_active_pool(virt, pool, &p, error)) {
        return FALSE;
    }
    int n = p != NULL ? virStoragePoolListAllVolumes(p, &vols, 0) : 0;
    if (n < 0) {
        return vp_virt_fail(error, _("cannot list the volumes of pool '%1$s'"),
                            pool);
    }
    gboolean ok = TRUE;
    for (int i = 0; i < n; i++) {
        /* The definition holds the backing file as libvirt probed it. */
        char *xml = ok ? virStorageVolGetXMLDesc(vols[i], 0) : NULL;
        if (xml != NULL) {
            g_autofree char *text = vp_virt_take(xml);
            g_autoptr(xmlDoc) doc = vp_xml_parse(text, "volume definition", NULL);
            char *file = doc != NULL
                ? vp_xml_xpath_string(doc, "string(/volume/backingStore/path)")
                : NULL;
            if (file != NULL) {
                g_hash_table_insert(backing, file,
                                    g_strdup_printf("%s/%s", pool,
                                                    virStorageVolGetName(vols[i])));
            }
        } else if (ok && !vp_volume_gone(virt)) {
            ok = vp_virt_fail(error, _("cannot read volume '%1$s'"),
                              virStorageVolGetName(vols[i]));
        }
        virStorageVolFree(vols[i]);
    }
    free(vols);
    return ok;
}
