/* Editing a domain definition as a libxml2 tree: only the elements being
 * changed change; every other element and attribute, comments and
 * <metadata> survive.  Pure: no libvirt. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain-xml.h"

typedef struct {
    xmlNodePtr node;  /* the <disk> element, owned by its document */
    char *device;     /* "disk", "cdrom", ... */
    char *type;       /* "file", "block", "volume", ... */
    char *target;     /* "vda" */
    char *bus;
    char *path;       /* source file or dev; NULL for other sources */
    char *pool;       /* type='volume' */
    char *volume;
    char *format;     /* driver type; NULL when not stated */
} VpDiskInfo;

void vp_disk_info_free(VpDiskInfo *disk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpDiskInfo, vp_disk_info_free)

/* Parses a domain definition.  Fails with VP_ERROR_FAILED. */
xmlDocPtr vp_domain_parse(const char *xml, GError **error);

/* Every <disk> of DOC, in document order (VpDiskInfo *, owned). */
GPtrArray *vp_domain_disks(xmlDocPtr doc);

/* The first free target name on BUS ("vd" names for virtio, "sd" for scsi,
 * sata and usb, "hd" for ide): vda..vdz, vdaa, ...  Names in TAKEN
 * (strings; may be NULL) count as used besides DOC's own.  Caller frees. */
char *vp_domain_free_target(xmlDocPtr doc, const char *bus,
                            const GPtrArray *taken);

/* Points DISK at PATH (a file, or a block device when BLOCK) in FORMAT:
 * the disk's type, its source attribute and its driver type change
 * together, and a <backingStore> that described the old image goes. */
void vp_domain_switch_disk(VpDiskInfo *disk, const char *path, gboolean block,
                           const char *format);

/* Appends a disk built from SPEC's disk fields to DOC's <devices>. */
void vp_domain_append_disk(xmlDocPtr doc, const VpDomainSpec *spec);

/* DOC as text, as vp_xml_to_string. */
char *vp_domain_format(xmlDocPtr doc);
