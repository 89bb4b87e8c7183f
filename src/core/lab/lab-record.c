#include "lab-record.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "lab-net.h"
#include "xml-util.h"

static void
vp_lab_volume_free(gpointer data)
{
    VpLabVolume *v = data;

    g_free(v->pool);
    g_free(v->name);
    g_free(v);
}

VpLabRecord *
vp_lab_record_new(const char *lab, const char *entry, const char *hash)
{
    VpLabRecord *r = g_new0(VpLabRecord, 1);

    r->lab = g_strdup(lab);
    r->entry = g_strdup(entry);
    r->hash = g_strdup(hash);
    r->volumes = g_ptr_array_new_with_free_func(vp_lab_volume_free);
    r->nics = g_ptr_array_new_with_free_func((GDestroyNotify)vp_lab_nic_free);
    return r;
}

char *
vp_lab_salted_hash(const char *hash, const char *salt)
{
    if (salt == NULL) {
        return g_strdup(hash);
    }
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    /* Both are hex: the separator cannot occur in either. */
    g_checksum_update(sum, (const guchar *)salt, (gssize)strlen(salt));
    g_checksum_update(sum, (const guchar *)":", 1);
    g_checksum_update(sum, (const guchar *)hash, (gssize)strlen(hash));
    return g_strdup(g_checksum_get_string(sum));
}

char *
vp_lab_new_salt(void)
{
    GString *hex = g_string_sized_new(32);

    /* GLib's generator is seeded from /dev/urandom; the salt needs to be
     * unique, not secret. */
    for (guint i = 0; i < 4; i++) {
        g_string_append_printf(hex, "%08" G_GINT32_MODIFIER "x",
                               g_random_int());
    }
    return g_string_free(hex, FALSE);
}

void
vp_lab_record_add_volume(VpLabRecord *r, const char *pool, const char *name)
{
    VpLabVolume *v = g_new0(VpLabVolume, 1);

    v->pool = g_strdup(pool);
    v->name = g_strdup(name);
    g_ptr_array_add(r->volumes, v);
}

void
vp_lab_nic_free(VpLabNic *nic)
{
    if (nic != NULL) {
        g_free(nic->network);
        g_free(nic->mac);
        g_free(nic->ip);
        g_free(nic);
    }
}

void
vp_lab_record_add_nic(VpLabRecord *r, const VpLabNic *nic)
{
    VpLabNic *n = g_new0(VpLabNic, 1);

    *n = *nic;
    n->network = g_strdup(nic->network);
    n->mac = g_ascii_strdown(nic->mac, -1);
    n->ip = g_strdup(nic->ip);
    g_ptr_array_add(r->nics, n);
}

const VpLabNic *
vp_lab_record_nic(const VpLabRecord *r, const char *network)
{
    for (guint i = 0; r != NULL && i < r->nics->len; i++) {
        const VpLabNic *n = g_ptr_array_index(r->nics, i);
        if (g_strcmp0(n->network, network) == 0) {
            return n;
        }
    }
    return NULL;
}

void
vp_lab_record_free(VpLabRecord *r)
{
    if (r == NULL) {
        return;
    }
    g_free(r->lab);
    g_free(r->entry);
    g_free(r->hash);
    g_free(r->salt);
    g_free(r->base);
    g_free(r->base_sha256);
    g_ptr_array_unref(r->volumes);
    g_ptr_array_unref(r->nics);
    g_free(r);
}

/* A new record document of root element NAME in the namespace, with its
 * first child lab (LAB).  Every element goes in the namespace, not only
 * the root: libvirt keeps the element as given, and a reader matching on
 * the namespace then finds the children too. */
static xmlDocPtr
vp_record_doc(const char *name, const char *lab, xmlNodePtr *root,
              xmlNsPtr *ns)
{
    xmlDocPtr doc = vp_xml_new_doc(name, root);

    *ns = xmlNewNs(*root, BAD_CAST VP_LAB_RECORD_NS,
                   BAD_CAST VP_LAB_RECORD_PREFIX);
    xmlSetNs(*root, *ns);
    xmlSetNs(vp_xml_child(*root, "lab", lab), *ns);
    return doc;
}

char *
vp_lab_record_to_xml(const VpLabRecord *r)
{
    xmlNodePtr root;
    xmlNsPtr ns;
    g_autoptr(xmlDoc) doc = vp_record_doc("guest", r->lab, &root, &ns);

    xmlSetNs(vp_xml_child(root, "entry", r->entry), ns);
    xmlSetNs(vp_xml_child(root, "options-hash", r->hash), ns);
    if (r->salt != NULL) {
        xmlSetNs(vp_xml_child(root, "salt", r->salt), ns);
    }
    xmlSetNs(vp_xml_child(root, "state", r->complete ? "complete" : "creating"),
             ns);
    if (r->base != NULL) {
        xmlNodePtr base = vp_xml_child(root, "base", r->base);
        xmlSetNs(base, ns);
        vp_xml_attr(base, "sha256", r->base_sha256);
    }
    for (guint i = 0; i < r->volumes->len; i++) {
        const VpLabVolume *v = g_ptr_array_index(r->volumes, i);
        xmlNodePtr vol = vp_xml_child(root, "volume", v->name);
        xmlSetNs(vol, ns);
        vp_xml_attr(vol, "pool", v->pool);
    }
    for (guint i = 0; i < r->nics->len; i++) {
        const VpLabNic *n = g_ptr_array_index(r->nics, i);
        xmlNodePtr nic = vp_xml_child(root, "nic", NULL);
        g_autofree char *index = g_strdup_printf("%u", n->index);
        xmlSetNs(nic, ns);
        vp_xml_attr(nic, "index", index);
        vp_xml_attr(nic, "network", n->network);
        vp_xml_attr(nic, "mac", n->mac);
        vp_xml_attr(nic, "ip", n->ip);
        vp_xml_attr(nic, "dhcp", n->dhcp ? "yes" : "no");
        vp_xml_attr(nic, "dns", n->dns ? "yes" : "no");
    }
    return vp_xml_to_string(doc);
}

/* S, or NULL (freeing it) when it is empty: an empty field is a missing
 * one. */
static char *
vp_nonempty(char *s)
{
    if (s != NULL && s[0] == '\0') {
        g_free(s);
        return NULL;
    }
    return s;
}

/* Element NAME of the record's namespace, or of none: virDomainGetMetadata
 * returns the element it was asked for by namespace with the namespace
 * stripped (libvirt 9.0), and the domain XML keeps it. */
static gboolean
vp_in_ns(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE &&
           (node->ns == NULL ||
            xmlStrcmp(node->ns->href, BAD_CAST VP_LAB_RECORD_NS) == 0) &&
           xmlStrcmp(node->name, BAD_CAST name) == 0;
}

/* A MAC as libvirt writes one: six pairs of hex digits. */
static gboolean
vp_mac_valid(const char *mac)
{
    if (strlen(mac) != 17) {
        return FALSE;
    }
    for (guint i = 0; i < 17; i++) {
        if (i % 3 == 2 ? mac[i] != ':' : !g_ascii_isxdigit(mac[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/* The nic element N into R.  Whatever is malformed refuses the whole
 * record: teardown acts on what a nic names. */
static gboolean
vp_parse_nic(VpLabRecord *r, xmlNodePtr n, GError **error)
{
    g_autofree char *index = vp_nonempty(vp_xml_prop(n, "index"));
    g_autofree char *dhcp = vp_xml_prop(n, "dhcp");
    g_autofree char *dns = vp_xml_prop(n, "dns");
    VpLabNic nic = {
        .network = vp_nonempty(vp_xml_prop(n, "network")),
        .mac = vp_nonempty(vp_xml_prop(n, "mac")),
        .ip = vp_nonempty(vp_xml_prop(n, "ip")),
        .dhcp = g_strcmp0(dhcp, "yes") == 0,
        .dns = g_strcmp0(dns, "yes") == 0,
    };
    guint64 i = 0;
    guint32 addr;
    gboolean ok = nic.network != NULL && nic.mac != NULL &&
                  vp_mac_valid(nic.mac) && index != NULL &&
                  g_ascii_string_to_unsigned(index, 10, 0, 1023, &i, NULL) &&
                  (nic.ip == NULL || vp_ipv4_parse(nic.ip, &addr)) &&
                  (nic.ip != NULL || (!nic.dhcp && !nic.dns));

    if (ok) {
        nic.index = (guint)i;
        vp_lab_record_add_nic(r, &nic);
    } else {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("the lab record names a NIC without its index, network "
                              "or MAC, or with a malformed address"));
    }
    g_free(nic.network);
    g_free(nic.mac);
    g_free(nic.ip);
    return ok;
}

/* XML parsed into *DOC, and its root when it is element NAME of the
 * namespace (or of none); *DOC NULL (ERROR set) when XML does not parse:
 * not the daemon's failure but a record nobody can trust, invalid. */
static xmlNodePtr
vp_record_root(const char *xml, const char *name, xmlDocPtr *doc,
               GError **error)
{
    g_autoptr(GError) parse_error = NULL;

    *doc = vp_xml_parse(xml, "lab record", &parse_error);
    if (*doc == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            parse_error->message);
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(*doc);
    return root != NULL && vp_in_ns(root, name) ? root : NULL;
}

VpLabRecord *
vp_lab_record_parse(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = vp_record_root(xml, "guest", &doc, error);

    if (doc == NULL) {
        return NULL;
    }
    if (root == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("the lab record is not a guest element of the "
                              "virt-provision lab namespace"));
        return NULL;
    }
    g_autoptr(VpLabRecord) r = vp_lab_record_new(NULL, NULL, NULL);
    /* Unknown children are skipped: a later version may record more, and
     * this one must still recognise what it made. */
    for (xmlNodePtr n = root->children; n != NULL; n = n->next) {
        if (vp_in_ns(n, "lab") && r->lab == NULL) {
            r->lab = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "entry") && r->entry == NULL) {
            r->entry = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "options-hash") && r->hash == NULL) {
            r->hash = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "salt") && r->salt == NULL) {
            r->salt = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "base") && r->base == NULL) {
            r->base = vp_nonempty(vp_xml_content(n));
            r->base_sha256 = vp_nonempty(vp_xml_prop(n, "sha256"));
        } else if (vp_in_ns(n, "state")) {
            g_autofree char *state = vp_nonempty(vp_xml_content(n));
            r->complete = g_strcmp0(state, "complete") == 0;
        } else if (vp_in_ns(n, "volume")) {
            g_autofree char *pool = vp_nonempty(vp_xml_prop(n, "pool"));
            g_autofree char *name = vp_nonempty(vp_xml_content(n));
            /* A volume without a pool or a name cannot be removed safely:
             * the whole record is refused rather than half trusted. */
            if (pool == NULL || name == NULL) {
                g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                                    _("the lab record names a volume without "
                                      "its pool or name"));
                return NULL;
            }
            vp_lab_record_add_volume(r, pool, name);
        } else if (vp_in_ns(n, "nic") && !vp_parse_nic(r, n, error)) {
            return NULL;
        }
    }
    if (r->lab == NULL || r->entry == NULL || r->hash == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("the lab record lacks its lab, entry or options "
                              "hash"));
        return NULL;
    }
    return g_steal_pointer(&r);
}

void
vp_lab_net_record_free(VpLabNetRecord *r)
{
    if (r != NULL) {
        g_free(r->lab);
        g_free(r->key);
        g_free(r->hash);
        g_free(r);
    }
}

char *
vp_lab_net_hash(const char *cidr, const char *mode, const char *domain,
                const char *subnet)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    const char *parts[] = { cidr, mode, domain != NULL ? domain : "", subnet };

    /* A newline occurs in none of them (all checked by the manifest). */
    for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
        g_checksum_update(sum, (const guchar *)parts[i], (gssize)strlen(parts[i]));
        g_checksum_update(sum, (const guchar *)"\n", 1);
    }
    return g_strdup(g_checksum_get_string(sum));
}

char *
vp_lab_net_record_to_xml(const VpLabNetRecord *r)
{
    xmlNodePtr root;
    xmlNsPtr ns;
    g_autoptr(xmlDoc) doc = vp_record_doc("network", r->lab, &root, &ns);

    xmlSetNs(vp_xml_child(root, "key", r->key), ns);
    xmlSetNs(vp_xml_child(root, "hash", r->hash), ns);
    return vp_xml_to_string(doc);
}

VpLabNetRecord *
vp_lab_net_record_parse(const char *xml, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = vp_record_root(xml, "network", &doc, error);

    if (doc == NULL) {
        return NULL;
    }
    g_autoptr(VpLabNetRecord) r = g_new0(VpLabNetRecord, 1);
    for (xmlNodePtr n = root != NULL ? root->children : NULL; n != NULL;
         n = n->next) {
        if (vp_in_ns(n, "lab") && r->lab == NULL) {
            r->lab = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "key") && r->key == NULL) {
            r->key = vp_nonempty(vp_xml_content(n));
        } else if (vp_in_ns(n, "hash") && r->hash == NULL) {
            r->hash = vp_nonempty(vp_xml_content(n));
        }
    }
    if (r->lab == NULL || r->key == NULL || r->hash == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            _("the lab record of the network lacks its lab, key or "
                              "hash"));
        return NULL;
    }
    return g_steal_pointer(&r);
}
