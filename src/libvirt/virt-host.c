/* What a host holds, read for proofs: which daemon it is, the definitions
 * of its domains by UUID, the volumes of a pool with their backing files.
 * A lab decides from these what it may delete (lab-proof.h). */
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "parallel.h"
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

/* The definitions of a listing's domains, read from threads of
 * vp_parallel_for. */
typedef struct {
    virDomainPtr *doms;
    VpDomainDefs **defs; /* NULL where the domain vanished or failed */
    GError **errors;
} VpDefsReading;

static void
vp_domain_defs_one(guint i, gpointer data)
{
    VpDefsReading *r = data;

    r->defs[i] = vp_domain_defs(r->doms[i], &r->errors[i]);
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
    VpDefsReading r = { doms, g_new0(VpDomainDefs *, n), g_new0(GError *, n) };
    /* Two or three round trips a domain, several domains at once. */
    vp_parallel_for((guint)n, VP_PARALLEL_CALLS, vp_domain_defs_one, &r);
    g_autoptr(GPtrArray) list =
        g_ptr_array_new_with_free_func((GDestroyNotify)vp_domain_defs_free);
    gboolean ok = TRUE;
    for (int i = 0; i < n; i++) {
        if (ok && r.errors[i] != NULL) {
            g_propagate_error(error, g_steal_pointer(&r.errors[i]));
            ok = FALSE;
        }
        g_clear_error(&r.errors[i]);
        if (r.defs[i] != NULL) {
            g_ptr_array_add(list, r.defs[i]);
        }
        virDomainFree(doms[i]);
    }
    g_free(r.defs);
    g_free(r.errors);
    free(doms);
    return ok ? g_steal_pointer(&list) : NULL;
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

/* Every volume of a pool, asked about from threads of vp_parallel_for:
 * its definition (WANT_XML) or only whether it is there. */
typedef struct {
    VpVirt *virt;
    gboolean want_xml;
    int n;
    virStorageVolPtr *vols;
    gboolean *there;
    char **xml;
    GError **errors;
} VpPoolReading;

static void
vp_pool_reading_one(guint i, gpointer data)
{
    VpPoolReading *r = data;
    virStorageVolInfo info;
    char *xml = NULL;

    /* libvirt re-reads a file volume when asked: a file removed behind
     * its back fails here. */
    if (r->want_xml) {
        xml = virStorageVolGetXMLDesc(r->vols[i], 0);
        r->there[i] = xml != NULL;
        r->xml[i] = xml != NULL ? vp_virt_take(xml) : NULL;
    } else {
        r->there[i] = virStorageVolGetInfo(r->vols[i], &info) == 0;
    }
    if (!r->there[i] && !vp_volume_gone(r->virt)) {
        vp_virt_fail(&r->errors[i], _("cannot read volume '%1$s'"),
                     virStorageVolGetName(r->vols[i]));
    }
}

/* Lists POOL's volumes into R and asks about each, a round trip a volume
 * with several in flight; a missing pool has none.  FALSE with the first
 * error; vp_pool_reading_clear frees R either way. */
static gboolean
vp_pool_read(VpVirt *virt, const char *pool, VpPoolReading *r, GError **error)
{
    VP_VIRT_BUSY(virt);
    g_autoptr(virStoragePool) p = NULL;

    r->virt = virt;
    if (!vp_active_pool(virt, pool, &p, error)) {
        return FALSE;
    }
    r->n = p != NULL ? virStoragePoolListAllVolumes(p, &r->vols, 0) : 0;
    if (r->n < 0) {
        r->n = 0;
        return vp_virt_fail(error, _("cannot list the volumes of pool '%1$s'"),
                            pool);
    }
    r->there = g_new0(gboolean, r->n);
    r->xml = g_new0(char *, r->n);
    r->errors = g_new0(GError *, r->n);
    vp_parallel_for((guint)r->n, VP_PARALLEL_CALLS, vp_pool_reading_one, r);
    for (int i = 0; i < r->n; i++) {
        if (r->errors[i] != NULL) {
            g_propagate_error(error, g_steal_pointer(&r->errors[i]));
            return FALSE;
        }
    }
    return TRUE;
}

static void
vp_pool_reading_clear(VpPoolReading *r)
{
    for (int i = 0; i < r->n; i++) {
        g_clear_error(&r->errors[i]);
        g_free(r->xml[i]);
        virStorageVolFree(r->vols[i]);
    }
    g_free(r->there);
    g_free(r->xml);
    g_free(r->errors);
    free(r->vols);
}

gboolean
vp_virt_pool_present(VpVirt *virt, const char *pool, GHashTable *present,
                     GError **error)
{
    VpPoolReading r = { 0 };
    gboolean ok = vp_pool_read(virt, pool, &r, error);

    for (int i = 0; ok && i < r.n; i++) {
        if (r.there[i]) {
            g_hash_table_add(present, g_strdup(virStorageVolGetName(r.vols[i])));
        }
    }
    vp_pool_reading_clear(&r);
    return ok;
}

gboolean
vp_virt_pool_backing(VpVirt *virt, const char *pool, GHashTable *backing,
                     GError **error)
{
    VpPoolReading r = { .want_xml = TRUE };
    gboolean ok = vp_pool_read(virt, pool, &r, error);

    for (int i = 0; ok && i < r.n; i++) {
        /* The definition holds the backing file as libvirt probed it. */
        g_autoptr(xmlDoc) doc = r.xml[i] != NULL
            ? vp_xml_parse(r.xml[i], "volume definition", NULL)
            : NULL;
        char *file = doc != NULL
            ? vp_xml_xpath_string(doc, "string(/volume/backingStore/path)")
            : NULL;
        if (file != NULL) {
            g_hash_table_insert(backing, file,
                                g_strdup_printf("%s/%s", pool,
                                                virStorageVolGetName(r.vols[i])));
        }
    }
    vp_pool_reading_clear(&r);
    return ok;
}
