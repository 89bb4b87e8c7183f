/* XML documents for libvirt: the domain of a new guest, the volume and pool
 * definitions, and what is read back from domain capabilities and volume
 * XML.  Pure: built with libxml2, no libvirt headers, unit-tested with
 * golden files. */
#pragma once

#include <glib.h>

#include "backing.h"

typedef enum {
    VP_INSTALL_PXE,    /* no media given: network boot, then the disk */
    VP_INSTALL_CDROM,  /* boot an installer ISO, then the disk */
    VP_INSTALL_KERNEL, /* direct kernel boot: --kernel/--initrd/--cmdline */
    VP_INSTALL_IMPORT, /* the disk already holds a system */
} VpInstallKind;

typedef enum {
    VP_NET_DEFAULT, /* network 'default' if active, else user networking */
    VP_NET_NETWORK,
    VP_NET_BRIDGE,
    VP_NET_USER,
    VP_NET_NONE,    /* not a NIC: --network none, which gives none */
} VpNetKind;

/* One network interface of a guest. */
typedef struct {
    VpNetKind kind;       /* never VP_NET_NONE */
    char *source;         /* network or bridge name; NULL for user, default */
    char *mac;            /* NULL: libvirt picks one */
    char *model;          /* NULL: virtio */
    char *ip;             /* IPv4 reserved for it in the network; NULL: none */
    char *dns_domain;     /* the network's DNS domain, for the guest's name
                           * there (the workflow reads it); NULL: none */
    gboolean lab_dns;     /* the network is a lab's own, whose DNS names
                           * the lab keeps for all its guests at once: the
                           * guest adds only its reservation */
} VpNic;

VpNic *vp_nic_new(VpNetKind kind, const char *source);
void vp_nic_free(VpNic *nic);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpNic, vp_nic_free)


typedef struct {
    char *name;
    char *uuid;           /* NULL: libvirt picks one */
    guint64 memory;       /* bytes */
    guint vcpus;
    char *virt_type;      /* "kvm" or "qemu" */
    char *arch;           /* NULL: libvirt's default */
    char *machine;        /* canonical machine name, NULL for default */
    char *emulator;       /* NULL: libvirt's default */

    char *disk_path;      /* volume path */
    gboolean disk_block;  /* type='block' (logical pools) */
    char *disk_format;    /* "qcow2" or "raw" */
    char *disk_bus;       /* "virtio" */
    char *disk_target;    /* "vda" */
    char *cache;          /* NULL: hypervisor default */
    char *io;
    char *discard;
    /* The disk's backing chain, nearest first (VpBackingLevel *, owned);
     * NULL or empty: the disk stands alone. */
    GPtrArray *disk_backing;
    /* A cloud-init NoCloud seed (an ISO volume) attached read-only as a
     * cdrom; NULL for none. */
    char *seed_path;

    VpInstallKind install;
    char *cdrom;
    char *kernel;
    char *initrd;
    char *cmdline;

    /* The NICs in order, the first the primary (VpNic *, owned); NULL or
     * empty: the guest has none. */
    GPtrArray *nics;
    char *graphics;       /* "none", "vnc", "spice" */
    /* One element of a namespace of its own, as XML text, for <metadata>
     * (a lab's ownership record); NULL for none.  It must parse: the
     * builder is given only what this project produced. */
    char *metadata;
} VpDomainSpec;

void vp_domain_spec_clear(VpDomainSpec *spec);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpDomainSpec, vp_domain_spec_clear)

/* Appends SPEC's disk (the disk_* fields) to DEVICES, a <devices>
 * element (libxml2 node; declared loosely to keep libxml2 out of this
 * header's users).  Returns the new <disk> element. */
void *vp_domain_xml_add_disk(void *devices, const VpDomainSpec *spec);

/* The disk buses a generated or attached disk may use, NULL-terminated;
 * the first is the default. */
extern const char *const vp_disk_buses[];

/* Initialises libxml2, as it must be before several threads build or
 * parse XML at once (a lab's guests); call from the main thread before
 * starting them.  Idempotent. */
void vp_xml_init(void);

/* The domain XML for SPEC.  Caller frees. */
char *vp_domain_xml_build(const VpDomainSpec *spec);

/* XML for a new, empty volume NAME in a pool (format raw, capacity and
 * allocation CAPACITY bytes: 0 for files, which grow with the upload, the
 * whole image for block devices): the emitter's bytes arrive afterwards by
 * upload, and libvirt then probes the qcow2 header. */
char *vp_volume_xml_build(const char *name, guint64 capacity);

/* XML for a directory pool NAME at PATH (the default pool). */
char *vp_pool_dir_xml_build(const char *name, const char *path);

/* From domain capabilities XML: the canonical machine name and the
 * emulator path, each NULL when the document lacks it (caller frees).
 * FALSE only when XML does not parse. */
gboolean vp_domcaps_parse(const char *xml, char **machine, char **emulator,
                          GError **error);

/* From a volume's XML: its target path and format type.  Caller frees. */
gboolean vp_volume_xml_parse(const char *xml, char **path, char **format,
                             GError **error);

/* From a pool's XML: its type attribute and target path. */
gboolean vp_pool_xml_parse(const char *xml, char **type, char **path,
                           GError **error);
