#include "lab-record.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
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
    g_free(r);
}

char *
vp_lab_record_to_xml(const VpLabRecord *r)
{
    xmlNodePtr root;
    g_autoptr(xmlDoc) doc = vp_xml_new_doc("guest", &root);
    /* Every element in the namespace, not only the root: libvirt keeps the
     * element as given, and a reader matching on the namespace then finds
     * the children too. */
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST VP_LAB_RECORD_NS,
                           BAD_CAST VP_LAB_RECORD_PREFIX);

    xmlSetNs(root, ns);
    xmlSetNs(vp_xml_child(root, "lab", r->lab), ns);
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

VpLabRecord *
vp_lab_record_parse(const char *xml, GError **error)
{
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(xmlDoc) doc = vp_xml_parse(xml, "lab record", &parse_error);

    /* Not the daemon's failure but a record nobody can trust: invalid. */
    if (doc == NULL) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_INVALID,
                            parse_error->message);
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root == NULL || !vp_in_ns(root, "guest")) {
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
