/* Editing a domain definition in place, as virsh edit would but without
 * an editor: the tree libvirt gave is kept, and only the elements an edit
 * is about change, so that everything this tool does not understand
 * (metadata of other tools, seclabels, addresses, comments) survives. */
#include "domain-edit.h"

#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "source.h"
#include "xml-util.h"

/* The definition being edited.  A struct of its own rather than xmlDoc
 * itself, so that callers above the core never see libxml2 types. */
struct VpDomainDoc {
    xmlDocPtr xml;
};

void
vp_disk_info_free(VpDiskInfo *d)
{
    if (d == NULL) {
        return;
    }
    g_free(d->device);
    g_free(d->type);
    g_free(d->target);
    g_free(d->bus);
    g_free(d->path);
    g_free(d->pool);
    g_free(d->volume);
    g_free(d->format);
    g_free(d);
}

VpDomainDoc *
vp_domain_doc_parse(const char *xml, GError **error)
{
    xmlDocPtr parsed = vp_xml_parse(xml, _("domain XML"), error);

    if (parsed == NULL) {
        return NULL;
    }
    if (!xmlStrEqual(xmlDocGetRootElement(parsed)->name, BAD_CAST "domain")) {
        g_set_error_literal(error, VP_ERROR, VP_ERROR_FAILED,
                            _("the domain XML has no <domain> element"));
        xmlFreeDoc(parsed);
        return NULL;
    }
    VpDomainDoc *doc = g_new0(VpDomainDoc, 1);
    doc->xml = parsed;
    return doc;
}

VpDomainDoc *
vp_domain_doc_copy(const VpDomainDoc *doc)
{
    VpDomainDoc *copy = g_new0(VpDomainDoc, 1);
    copy->xml = xmlCopyDoc(doc->xml, 1);
    return copy;
}

void
vp_domain_doc_free(VpDomainDoc *doc)
{
    if (doc != NULL) {
        xmlFreeDoc(doc->xml);
        g_free(doc);
    }
}

static xmlNodePtr
vp_child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node != NULL ? node->children : NULL; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST name)) {
            return c;
        }
    }
    return NULL;
}

/* A definition without <devices> is valid (libvirt adds defaults); an
 * edit that adds a disk needs one, so it is made on demand. */
static xmlNodePtr
vp_devices(VpDomainDoc *doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc->xml);
    xmlNodePtr devices = vp_child(root, "devices");
    return devices != NULL ? devices : vp_xml_child(root, "devices", NULL);
}

GPtrArray *
vp_domain_disks(VpDomainDoc *doc)
{
    GPtrArray *disks = g_ptr_array_new_with_free_func((GDestroyNotify)vp_disk_info_free);
    xmlNodePtr devices = vp_devices(doc);

    for (xmlNodePtr c = devices->children; c != NULL; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "disk")) {
            continue;
        }
        VpDiskInfo *d = g_new0(VpDiskInfo, 1);
        xmlNodePtr source = vp_child(c, "source");
        xmlNodePtr target = vp_child(c, "target");
        d->element = c;
        d->device = vp_xml_prop(c, "device");
        if (d->device == NULL) {
            d->device = g_strdup("disk"); /* libvirt's default */
        }
        d->type = vp_xml_prop(c, "type");
        d->target = vp_xml_prop(target, "dev");
        d->bus = vp_xml_prop(target, "bus");
        d->format = vp_xml_prop(vp_child(c, "driver"), "type");
        if (g_strcmp0(d->type, "file") == 0) {
            d->path = vp_xml_prop(source, "file");
        } else if (g_strcmp0(d->type, "block") == 0) {
            d->path = vp_xml_prop(source, "dev");
        } else if (g_strcmp0(d->type, "volume") == 0) {
            d->pool = vp_xml_prop(source, "pool");
            d->volume = vp_xml_prop(source, "volume");
        }
        g_ptr_array_add(disks, d);
    }
    return disks;
}

void
vp_iface_info_free(VpIfaceInfo *iface)
{
    if (iface != NULL) {
        g_free(iface->mac);
        g_free(iface->network);
        g_free(iface);
    }
}

GPtrArray *
vp_domain_interfaces(VpDomainDoc *doc)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)vp_iface_info_free);
    xmlNodePtr devices = vp_child(xmlDocGetRootElement(doc->xml), "devices");

    for (xmlNodePtr c = devices != NULL ? devices->children : NULL; c != NULL;
         c = c->next) {
        if (c->type != XML_ELEMENT_NODE ||
            !xmlStrEqual(c->name, BAD_CAST "interface")) {
            continue;
        }
        VpIfaceInfo *i = g_new0(VpIfaceInfo, 1);
        g_autofree char *type = vp_xml_prop(c, "type");
        g_autofree char *mac = vp_xml_prop(vp_child(c, "mac"), "address");
        i->mac = mac != NULL ? g_ascii_strdown(mac, -1) : NULL;
        if (g_strcmp0(type, "network") == 0) {
            i->network = vp_xml_prop(vp_child(c, "source"), "network");
        }
        g_ptr_array_add(out, i);
    }
    return out;
}

/* "vd" + 0 -> "vda", 25 -> "vdz", 26 -> "vdaa", as libvirt numbers disks. */
static char *
vp_target_name(const char *prefix, guint index)
{
    char letters[8];
    int n = 0;
    guint i = index + 1;

    while (i > 0 && n < (int)sizeof(letters)) {
        letters[n++] = (char)('a' + (i - 1) % 26);
        i = (i - 1) / 26;
    }
    GString *name = g_string_new(prefix);
    while (n > 0) {
        g_string_append_c(name, letters[--n]);
    }
    return g_string_free(name, FALSE);
}

/* Targets named in DOC or in TAKEN (the running guest's, which a
 * hot-plug without --config adds without touching the definition). */
static gboolean
vp_target_taken(const GPtrArray *disks, const GPtrArray *taken, const char *name)
{
    for (guint i = 0; i < disks->len; i++) {
        const VpDiskInfo *d = g_ptr_array_index(disks, i);
        if (g_strcmp0(d->target, name) == 0) {
            return TRUE;
        }
    }
    for (guint i = 0; taken != NULL && i < taken->len; i++) {
        if (g_strcmp0(g_ptr_array_index(taken, i), name) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

char *
vp_domain_free_target(VpDomainDoc *doc, const char *bus, const GPtrArray *taken)
{
    g_autoptr(GPtrArray) disks = vp_domain_disks(doc);
    const char *prefix = g_strcmp0(bus, "ide") == 0      ? "hd"
                         : g_strcmp0(bus, "virtio") == 0 ? "vd"
                                                         : "sd";

    for (guint i = 0;; i++) {
        char *name = vp_target_name(prefix, i);
        if (!vp_target_taken(disks, taken, name)) {
            return name;
        }
        g_free(name);
    }
}

void
vp_domain_switch_disk(VpDiskInfo *disk, const char *path, gboolean block,
                      const char *format)
{
    xmlNodePtr node = disk->element;
    xmlNodePtr source = vp_child(node, "source");
    xmlNodePtr driver = vp_child(node, "driver");

    vp_xml_attr(node, "type", block ? "block" : "file");
    if (source == NULL) {
        source = xmlNewNode(NULL, BAD_CAST "source");
        xmlAddChild(node, source);
    }
    /* The source's own children (seclabel, reservations) stay; only the
     * attributes that name the image change. */
    static const char *const naming[] = { "file", "dev", "pool", "volume",
                                          "mode", "protocol", "name" };
    for (gsize i = 0; i < G_N_ELEMENTS(naming); i++) {
        xmlUnsetProp(source, BAD_CAST naming[i]);
    }
    vp_xml_attr(source, block ? "dev" : "file", path);
    if (driver == NULL) {
        driver = xmlNewNode(NULL, BAD_CAST "driver");
        xmlAddPrevSibling(node->children != NULL ? node->children : source, driver);
        vp_xml_attr(driver, "name", "qemu");
    }
    vp_xml_attr(driver, "type", format);
    xmlNodePtr backing = vp_child(node, "backingStore");
    if (backing != NULL) {
        xmlUnlinkNode(backing);
        xmlFreeNode(backing);
    }
    g_free(disk->type);
    disk->type = g_strdup(block ? "block" : "file");
    g_free(disk->path);
    disk->path = g_strdup(path);
    g_free(disk->format);
    disk->format = g_strdup(format);
}

/* The new disk is built by the same code as a generated guest's, so an
 * attached disk and a provisioned one cannot differ in driver settings. */
void
vp_domain_append_disk(VpDomainDoc *doc, const VpDomainSpec *spec)
{
    xmlNodePtr devices = vp_devices(doc);
    xmlNodePtr last_disk = NULL;

    for (xmlNodePtr c = devices->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "disk")) {
            last_disk = c;
        }
    }
    xmlNodePtr disk = vp_domain_xml_add_disk(devices, spec);
    /* Next to the other disks, where a reader (and libvirt) expects it. */
    if (last_disk != NULL) {
        xmlUnlinkNode(disk);
        xmlAddNextSibling(last_disk, disk);
    }
}

char *
vp_domain_doc_format(VpDomainDoc *doc)
{
    return vp_xml_to_string(doc->xml);
}

/* A <disk> on its own, built in a scratch document: what the hot-plug
 * call wants, and the same element the definition receives. */
char *
vp_domain_disk_device_xml(const VpDomainSpec *spec)
{
    xmlNodePtr root;
    g_autoptr(xmlDoc) one = vp_xml_new_doc("devices", &root);
    xmlNodePtr disk = vp_domain_xml_add_disk(xmlDocGetRootElement(one), spec);

    return vp_xml_to_string_node(disk);
}

/* The backing chain DISK's <backingStore> states (libvirt's formatdomain:
 * nested elements, each with a type, <format> and <source>, an empty one
 * ending the chain), for the source to check against the image headers.
 * *CHAIN is NULL when the disk has none: libvirt then follows the headers
 * too. */
gboolean
vp_disk_backing_chain(const VpDiskInfo *disk, VpBackingChain **chain,
                      GError **error)
{
    xmlNodePtr node = vp_child(disk->element, "backingStore");

    *chain = NULL;
    if (node == NULL) {
        return TRUE;
    }
    g_autoptr(VpBackingChain) c = vp_backing_chain_new();
    for (; node != NULL; node = vp_child(node, "backingStore")) {
        g_autofree char *type = vp_xml_prop(node, "type");
        if (type == NULL) {
            c->closed = TRUE; /* <backingStore/>: nothing further */
            break;
        }
        xmlNodePtr source = vp_child(node, "source");
        g_autofree char *path = g_str_equal(type, "file")
                                    ? vp_xml_prop(source, "file")
                                : g_str_equal(type, "block")
                                    ? vp_xml_prop(source, "dev")
                                    : NULL;
        if (path == NULL) {
            g_set_error(error, VP_ERROR, VP_ERROR_UNSUPPORTED,
                        _("disk '%1$s' has a backing store of type '%2$s' "
                          "without a source file or device; convert follows "
                          "only file and block backing stores"),
                        disk->target, type);
            return FALSE;
        }
        g_autofree char *format = vp_xml_prop(vp_child(node, "format"),
                                                  "type");
        vp_backing_chain_add(c, path, format);
    }
    *chain = g_steal_pointer(&c);
    return TRUE;
}
