/* Editing a domain definition as a libxml2 tree: only the elements being
 * changed change; every other element and attribute, comments and
 * <metadata> survive.  Pure: no libvirt. */
#pragma once

#include <glib.h>

#include "domain-xml.h"
#include "source.h"

/* A domain definition parsed for editing. */
typedef struct VpDomainDoc VpDomainDoc;

typedef struct {
    void *element;    /* private: the <disk> element, owned by its doc */
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
VpDomainDoc *vp_domain_doc_parse(const char *xml, GError **error);
/* A deep copy, to diff against after editing the original. */
VpDomainDoc *vp_domain_doc_copy(const VpDomainDoc *doc);
void vp_domain_doc_free(VpDomainDoc *doc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpDomainDoc, vp_domain_doc_free)

/* Every <disk> of DOC, in document order (VpDiskInfo *, owned). */
GPtrArray *vp_domain_disks(VpDomainDoc *doc);

/* One <interface> of a domain: its MAC (lower case; NULL: none given)
 * and, for type='network', the network's name (else NULL). */
typedef struct {
    char *mac;
    char *network;
} VpIfaceInfo;

void vp_iface_info_free(VpIfaceInfo *iface);

/* Every <interface> of DOC, in document order (VpIfaceInfo *, owned). */
GPtrArray *vp_domain_interfaces(VpDomainDoc *doc);

/* The first free target name on BUS ("vd" names for virtio, "sd" for scsi,
 * sata and usb, "hd" for ide): vda..vdz, vdaa, ...  Names in TAKEN
 * (strings; may be NULL) count as used besides DOC's own.  Caller frees. */
char *vp_domain_free_target(VpDomainDoc *doc, const char *bus,
                            const GPtrArray *taken);

/* Points DISK at PATH (a file, or a block device when BLOCK) in FORMAT:
 * the disk's type, its source attribute and its driver type change
 * together, and a <backingStore> that described the old image goes. */
void vp_domain_switch_disk(VpDiskInfo *disk, const char *path, gboolean block,
                           const char *format);

/* Appends a disk built from SPEC's disk fields to DOC's <devices>. */
void vp_domain_append_disk(VpDomainDoc *doc, const VpDomainSpec *spec);

/* DOC as text, as libvirt would print it.  Caller frees. */
char *vp_domain_doc_format(VpDomainDoc *doc);

/* SPEC's disk alone as a <disk> element, as virDomainAttachDevice takes
 * it.  Caller frees. */
char *vp_domain_disk_device_xml(const VpDomainSpec *spec);

/* The backing chain DISK's <backingStore> states, nearest level first, for
 * a source to check against the image headers; *CHAIN is NULL when the
 * disk has no <backingStore> (the headers alone decide, as for libvirt).
 * Fails with VP_ERROR_UNSUPPORTED for a level that is neither a file nor a
 * block device. */
gboolean vp_disk_backing_chain(const VpDiskInfo *disk, VpBackingChain **chain,
                               GError **error);
