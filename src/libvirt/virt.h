/* The libvirt boundary: the only code that includes the libvirt headers.
 * Connection, pools, volumes, upload streams, domains; every libvirt error
 * becomes a GError (VP_ERROR_FAILED unless stated) whose message says what
 * was attempted and libvirt's reason. */
#pragma once

#include <glib.h>

#include "cancel.h"
#include "network-xml.h"
#include "sink.h"

typedef struct VpVirt VpVirt;

/* Initialises libvirt and starts the thread that runs its event loop
 * (keepalive), once per process; every connect does it too.  A program
 * that starts threads of its own calls it first, so that a process limit
 * they reach cannot leave libvirt without its thread.  Fails with
 * VP_ERROR_FAILED when that thread cannot be started. */
gboolean vp_virt_init(GError **error);

/* A connection's calls (or its opening) have waited SECONDS for an
 * answer of its daemon at URI (as the connect was given it, else
 * LIBVIRT_DEFAULT_URI or a phrase for libvirt's default): told every 10 s
 * of a wait, from libvirt's event thread, while the calls go on waiting.
 * Once an answer ends a wait that was told, ANSWERED is TRUE and SECONDS
 * how long it lasted, told from the thread of the call that got it.  It
 * must return at once and call nothing of this layer.
 *
 * A slow daemon is waited for as long as it takes; one that answers
 * nothing at all, not even the keepalive pings libvirt's event thread
 * sends, for 60 s (VP_VIRT_DEAD_SECONDS) counts as gone: its connection is
 * closed, and the call under way fails. */
typedef void (*VpVirtWaitFunc)(const char *uri, guint seconds,
                               gboolean answered, gpointer data);
#define VP_VIRT_DEAD_SECONDS 60

/* Told by the thread that opens a connection to URI (as asked, NULL for
 * libvirt's default), a first one or a reconnect, just before (OPENING
 * TRUE) and just after the opening, during which ssh or libvirt may ask
 * the user for a password or about a host key on the terminal.  Several
 * threads may open at once.  It must return at once and call nothing of
 * this layer. */
typedef void (*VpVirtOpenHook)(const char *uri, gboolean opening);
/* Sets the hook of every later opening (NULL: none), once, before the
 * first connection. */
void vp_virt_set_open_hook(VpVirtOpenHook hook);

/* Connects to URI, or LIBVIRT_DEFAULT_URI, or libvirt's default when both
 * are NULL; its waits are told to WAIT (may be NULL) with DATA, which must
 * outlive the connection.  The error names the URI tried and how to start
 * a daemon. */
VpVirt *vp_virt_connect(const char *uri, VpVirtWaitFunc wait, gpointer data,
                        GError **error);
/* The same, read-only: the daemon refuses every change (a dry run). */
VpVirt *vp_virt_connect_readonly(const char *uri, VpVirtWaitFunc wait,
                                 gpointer data, GError **error);
void vp_virt_free(VpVirt *virt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpVirt, vp_virt_free)

/* The URI actually connected to. */
const char *vp_virt_uri(VpVirt *virt);
/* TRUE for qemu:///session-style (unprivileged) connections. */
gboolean vp_virt_is_session(VpVirt *virt);

/* Makes sure the connection still works; when the daemon went away,
 * reconnects to the same URI, trying for up to TIMEOUT_MS.  Used by undo
 * steps, which must reach the daemon to remove what was created.  Once a
 * reconnect of VIRT waited in vain, later ones try once without waiting
 * (the threads of a lab share VIRT), until one succeeds. */
gboolean vp_virt_ensure_alive(VpVirt *virt, guint timeout_ms, GError **error);

typedef struct {
    gboolean exists;
    gboolean active;
    char *type;  /* "dir", "logical", ... */
    char *path;  /* target path */
    gboolean available_known; /* FALSE when libvirt could not say */
    guint64 available; /* bytes free for new volumes */
} VpPoolInfo;
void vp_pool_info_clear(VpPoolInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpPoolInfo, vp_pool_info_clear)

gboolean vp_virt_pool_info(VpVirt *virt, const char *pool, VpPoolInfo *info,
                           GError **error);
/* Defines, builds, starts and marks autostart a directory pool. */
gboolean vp_virt_pool_create_dir(VpVirt *virt, const char *pool,
                                 const char *path, GError **error);
/* Undo of vp_virt_pool_create_dir: stops and undefines the pool.  The
 * directory stays: it may have existed before, and by now it may hold
 * files that are not this run's. */
gboolean vp_virt_pool_remove(VpVirt *virt, const char *pool, GError **error);

gboolean vp_virt_volume_exists(VpVirt *virt, const char *pool,
                               const char *name, gboolean *exists,
                               GError **error);
/* Creates an empty raw volume of CAPACITY bytes; returns its path.  On
 * failure *CREATED says whether the volume exists all the same (the daemon
 * created it, then the connection broke before its path was read): the
 * caller must then still remove it. */
char *vp_virt_volume_create(VpVirt *virt, const char *pool, const char *name,
                            guint64 capacity, gboolean *created,
                            GError **error);
gboolean vp_virt_volume_delete(VpVirt *virt, const char *pool,
                               const char *name, GError **error);

typedef struct {
    char *path;
    char *format;
    guint64 capacity;   /* bytes */
    guint64 allocation; /* bytes */
    guint64 physical;   /* bytes: file length */
} VpVolumeInfo;
void vp_volume_info_clear(VpVolumeInfo *info);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpVolumeInfo, vp_volume_info_clear)

/* Reports the volume as libvirt sees it, after refreshing the whole pool
 * when REFRESH. */
gboolean vp_virt_volume_info(VpVirt *virt, const char *pool,
                             const char *name, gboolean refresh,
                             VpVolumeInfo *info, GError **error);

/* A sink that uploads into volume NAME through a sparse stream.  Holes
 * travel as stream holes unless WRITE_HOLES (block devices that may not
 * read back zeros), when they travel as zero bytes.  Commit finishes the
 * stream; freeing without commit aborts it. */
VpSink *vp_virt_upload_sink_new(VpVirt *virt, const char *pool,
                                const char *name, gboolean write_holes,
                                GError **error);

/* TRUE when the URI names no host (the daemon runs on this machine), so
 * that files it reports can be read directly; FALSE whenever the
 * environment variable VIRT_PROVISION_STREAMS_ONLY is set. */
gboolean vp_virt_is_local(VpVirt *virt);

typedef struct {
    char *pool;
    char *name;
    char *path;
    char *format;
    guint64 capacity; /* bytes */
    guint64 physical; /* bytes: the file's length */
} VpVolumeRef;
void vp_volume_ref_clear(VpVolumeRef *ref);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpVolumeRef, vp_volume_ref_clear)

/* The pool volume at PATH; *FOUND FALSE when no pool holds it. */
gboolean vp_virt_volume_by_path(VpVirt *virt, const char *path,
                                VpVolumeRef *ref, gboolean *found,
                                GError **error);
gboolean vp_virt_volume_by_name(VpVirt *virt, const char *pool,
                                const char *name, VpVolumeRef *ref,
                                GError **error);

/* A source reading volume NAME of POOL through a sparse download stream,
 * strictly in order (as the emitter reads).  SIZE is its virtual size. */
struct VpSource *vp_virt_download_source_new(VpVirt *virt, const char *pool,
                                             const char *name, guint64 size,
                                             GError **error);

/* The first LENGTH bytes of volume NAME of POOL (fewer when the volume is
 * shorter), through a download stream: how an image's header is read on a
 * host whose files are not reachable here. */
GBytes *vp_virt_volume_read_head(VpVirt *virt, const char *pool,
                                 const char *name, gsize length,
                                 GError **error);

/* Copies the bytes of volume NAME of POOL into FD (a new, empty file)
 * through a sparse download stream: holes stay holes.  Polls CANCEL (may be
 * NULL) between extents. */
gboolean vp_virt_volume_download(VpVirt *virt, const char *pool,
                                 const char *name, int fd,
                                 const VpCancel *cancel, GError **error);

/* The domain's definition (INACTIVE: the persistent one), with secure
 * details, as libvirt formats it. */
char *vp_virt_domain_xml(VpVirt *virt, const char *name, gboolean inactive,
                         GError **error);
gboolean vp_virt_domain_is_active(VpVirt *virt, const char *name,
                                  gboolean *active, GError **error);
/* Replaces an existing domain's persistent definition with XML. */
gboolean vp_virt_domain_redefine(VpVirt *virt, const char *xml,
                                 GError **error);
/* Hot-plugs or unplugs the device XML into the running domain only. */
gboolean vp_virt_domain_attach_live(VpVirt *virt, const char *name,
                                    const char *device_xml, GError **error);
gboolean vp_virt_domain_detach_live(VpVirt *virt, const char *name,
                                    const char *device_xml, GError **error);

gboolean vp_virt_domain_exists(VpVirt *virt, const char *name,
                               gboolean *exists, GError **error);
/* Defines XML; returns the new domain's UUID string. */
char *vp_virt_domain_define(VpVirt *virt, const char *xml, GError **error);
gboolean vp_virt_domain_undefine(VpVirt *virt, const char *name,
                                 GError **error);
gboolean vp_virt_domain_start(VpVirt *virt, const char *name, GError **error);
gboolean vp_virt_domain_destroy(VpVirt *virt, const char *name,
                                GError **error);
gboolean vp_virt_domain_set_autostart(VpVirt *virt, const char *name,
                                      gboolean autostart, GError **error);

/* Domain capabilities XML for VIRT_TYPE/ARCH/MACHINE (NULLs: defaults);
 * NULL with an error when the hypervisor does not offer that combination. */
char *vp_virt_domain_caps(VpVirt *virt, const char *virt_type,
                          const char *arch, const char *machine,
                          GError **error);

/* One address of a guest, as its agent reports it. */
typedef struct {
    char *interface; /* "eth0" */
    char *address;   /* "192.0.2.7", "2001:db8::7" */
    guint prefix;    /* 24 */
    gboolean ipv6;
} VpAddress;
void vp_address_free(VpAddress *address);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpAddress, vp_address_free)

/* The guest's IP addresses as its qemu guest agent reports them (VpAddress
 * *, owned), loopback and IPv6 link-local left out.  Fails with
 * VP_ERROR_FAILED (libvirt's reason) while the agent does not answer; an
 * empty array means it answered with no such address yet. */
GPtrArray *vp_virt_domain_addresses(VpVirt *virt, const char *name,
                                    GError **error);

/* The running guest's addresses as the DHCP leases of its interfaces'
 * libvirt networks give them (the interface named as the host names it,
 * "vnet3"): nothing in the guest is needed.  Empty while it has none. */
GPtrArray *vp_virt_domain_lease_addresses(VpVirt *virt, const char *name,
                                          GError **error);

/* A domain of a host as a lab sees it. */
typedef struct {
    char *name;
    char *uuid;
    gboolean active;   /* running (or paused) */
    /* Its <metadata> element of the namespace asked for, as libvirt
     * formats it; NULL when it has none. */
    char *metadata;
} VpDomainEntry;
void vp_domain_entry_free(VpDomainEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpDomainEntry, vp_domain_entry_free)

/* Every domain of VIRT's host, defined or only running (VpDomainEntry *,
 * owned), each with its metadata element of namespace NS.  One list call
 * and one metadata call per domain, so a host of many guests costs one
 * round trip per guest. */
GPtrArray *vp_virt_domain_list(VpVirt *virt, const char *ns, GError **error);

gboolean vp_virt_network_state(VpVirt *virt, const char *name,
                               gboolean *exists, gboolean *active,
                               GError **error);

/* What tells one daemon from another whatever URI reached it: the host
 * name it reports (*HOSTNAME) and the UUIDs of its storage pools and
 * networks (*UUIDS, strings); with the UUIDs of its domains, two URIs
 * that share a host name and any UUID reach one daemon.  A driver
 * without networks has none, which is no failure. */
gboolean vp_virt_host_identity(VpVirt *virt, char **hostname,
                               GPtrArray **uuids, GError **error);

/* A domain's definitions as the host holds them now. */
typedef struct {
    char *uuid;
    char *name;
    gboolean active;
    char *xml;       /* the persistent definition (the live one when the
                      * domain is transient) */
    char *live_xml;  /* the running definition; NULL when not running */
} VpDomainDefs;
void vp_domain_defs_free(VpDomainDefs *defs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpDomainDefs, vp_domain_defs_free)

/* The domain of UUID as it is now: *DEFS NULL (and TRUE) when no domain
 * has that UUID any more. */
gboolean vp_virt_domain_defs_by_uuid(VpVirt *virt, const char *uuid,
                                     VpDomainDefs **defs, GError **error);
/* Every domain of the host (VpDomainDefs *, owned): one list call and one
 * or two definition calls per domain. */
GPtrArray *vp_virt_domain_defs_all(VpVirt *virt, GError **error);

/* Stops (when it runs) and undefines the domain of UUID, with its managed
 * save image and NVRAM; never a domain looked up by name, which may have
 * been replaced by another of that name since it was read. */
gboolean vp_virt_domain_stop_by_uuid(VpVirt *virt, const char *uuid,
                                     GError **error);
gboolean vp_virt_domain_undefine_by_uuid(VpVirt *virt, const char *uuid,
                                         GError **error);

/* Whether volume NAME of POOL is there to use now: *PATH its path, or
 * NULL when the pool, the volume or its file is gone (libvirt re-reads a
 * file volume when asked about it, so a file removed behind its back
 * counts as gone).  Fails only when the host cannot answer, and for an
 * inactive pool, whose volumes cannot be told. */
gboolean vp_virt_volume_path(VpVirt *virt, const char *pool,
                             const char *name, char **path, GError **error);

/* Adds to PRESENT (a set of names, g_free) every volume of POOL that is
 * there to use now, as vp_virt_volume_path tells one, for all of them at
 * once: one listing and a round trip a volume, several in flight.  A
 * missing pool adds nothing; fails as vp_virt_volume_path does. */
gboolean vp_virt_pool_present(VpVirt *virt, const char *pool,
                              GHashTable *present, GError **error);

/* Adds to BACKING, for each volume of POOL that has a backing file, the
 * backing file's path -> "POOL/VOLUME" (both owned by BACKING, g_free).
 * A missing pool adds nothing; a volume that cannot be read is skipped
 * (its file may be gone), as long as the host answers. */
gboolean vp_virt_pool_backing(VpVirt *virt, const char *pool,
                              GHashTable *backing, GError **error);

/* ------------------------------------------------------------------ */
/* Networks (virt-network.c) */

/* NAME's definition as the host holds it now (the running one when it
 * runs) into *DEF and whether it runs into *ACTIVE; *DEF NULL when there
 * is no such network, which is no failure. */
gboolean vp_virt_network_def(VpVirt *virt, const char *name,
                             VpNetworkDef **def, gboolean *active,
                             GError **error);

/* Every network of the host (VpNetworkDef *, owned); none on a driver
 * without networks. */
GPtrArray *vp_virt_network_defs(VpVirt *virt, GError **error);

/* An IPv4 DHCP lease of a network. */
typedef struct {
    char *mac;          /* lower case */
    char *hostname;     /* NULL: the client gave none */
    guint32 ip;
    gint64 expiry;      /* seconds since the epoch */
} VpNetLease;
void vp_net_lease_free(VpNetLease *lease);

/* NAME's current IPv4 leases (VpNetLease *, owned); none when the network
 * does not exist. */
GPtrArray *vp_virt_network_leases(VpVirt *virt, const char *name,
                                  GError **error);

typedef enum {
    VP_NET_SECTION_DHCP_HOST, /* XML of vp_network_dhcp_host_xml */
    VP_NET_SECTION_DNS_HOST,  /* XML of vp_network_dns_host_xml */
} VpNetSection;

/* Adds (ADD) or removes the entry XML of SECTION in network NAME, in its
 * definition and, when it runs, live (dnsmasq answers at once). */
gboolean vp_virt_network_entry(VpVirt *virt, const char *name,
                               VpNetSection section, gboolean add,
                               const char *xml, GError **error);

/* Defines the network XML, starts it and marks it autostart; undefined
 * again when it cannot start.  Returns its UUID (caller frees). */
char *vp_virt_network_create(VpVirt *virt, const char *xml, GError **error);

/* Starts the network of UUID when it does not run, and marks it to start
 * with the host: a copy whose creation was cut short between its
 * definition and its start is finished.  *STARTED says whether it had to
 * be started. */
gboolean vp_virt_network_ensure_active(VpVirt *virt, const char *uuid,
                                       gboolean *started, GError **error);

/* Stops and undefines the network of UUID; one that is gone already is
 * no failure. */
gboolean vp_virt_network_remove(VpVirt *virt, const char *uuid,
                                GError **error);

