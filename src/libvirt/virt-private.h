/* Private to src/libvirt/: the connection object and the helpers every
 * file of this layer shares.  Nothing outside this folder includes it. */
#pragma once

#include <stdlib.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStoragePool, virStoragePoolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStorageVol, virStorageVolFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virNetwork, virNetworkFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virStream, virStreamFree)

/* One stream message carries at most 262120 bytes of payload
 * (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX); fewer, fuller messages mean fewer
 * round trips. */
#define VP_STREAM_CHUNK (256 * 1024 - 4096)

/* How long the calls of a connection have waited for its daemon
 * (virt-watch.c); every field under LOCK, which no call is made under. */
typedef struct {
    GMutex lock;
    gint busy;          /* calls under way */
    gint64 since;       /* monotonic, microseconds: when the wait began */
    guint reported;     /* seconds of this wait already told */
    VpVirtWaitFunc func; /* NULL: nobody is told */
    gpointer data;
    char *uri;          /* as the owner named it, for FUNC */
} VpVirtWatch;

/* One connection may serve several threads (a lab's guests on one host):
 * libvirt's connection is thread-safe, and LOCK guards what this struct
 * adds to it. */
struct VpVirt {
    virConnectPtr conn;
    char *uri;        /* as asked for (may be NULL: default) */
    char *actual_uri; /* as connected */
    unsigned int flags; /* of virConnectOpenAuth: VIR_CONNECT_RO or 0 */
    GMutex lock;
    /* Connections replaced by a reconnect, closed only with the VpVirt:
     * another thread may still be using the one it read. */
    GPtrArray *dead;
    GHashTable *pool_locks; /* pool name -> GMutex *, see vp_virt_pool_lock */
    /* A reconnect waited its whole timeout in vain: later ones try once and
     * do not wait again, or every guest of a lost host would. */
    gboolean gave_up;
    /* Held by each stream from its creation to its end, and by pool
     * refreshes: one stream at a time per connection.  Streams of one
     * connection running in parallel from several threads lost the
     * connection or hung an RPC now and then (libvirt 9.0: the daemon logs
     * "stream is not open" while closing one), and a refresh during an
     * upload fails ("pool has asynchronous jobs running").  Recursive: a
     * convert reads one volume while it writes another. */
    GRecMutex stream_lock;
    VpVirtWatch watch;
};

/* ---- waits (virt-watch.c) ---------------------------------------------- */

/* Adds the timer that tells the waits; after virEventRegisterDefaultImpl,
 * once. */
void vp_virt_watch_start(void);
/* Starts and ends the watch of VIRT (whose other fields need not be set
 * yet): its waits are told to FUNC (may be NULL) as URI.  Remove before
 * VIRT is freed; once it returns FUNC is not running and will not run. */
void vp_virt_watch_add(VpVirt *virt, const char *uri, VpVirtWaitFunc func,
                       gpointer data);
void vp_virt_watch_remove(VpVirt *virt);

/* A call of VIRT under way from begin to end (which says the daemon
 * answered); calls nest and may run in several threads at once.  Use
 * VP_VIRT_BUSY(virt) first thing in a function that calls the daemon: it
 * ends when the function returns. */
typedef struct VpVirt VpVirtBusy;
VpVirtBusy *vp_virt_busy_begin(VpVirt *virt);
void vp_virt_busy_end(VpVirtBusy *virt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpVirtBusy, vp_virt_busy_end)
#define VP_VIRT_BUSY(virt)                                                   \
    G_GNUC_UNUSED g_autoptr(VpVirtBusy) vp_virt_busy_ = vp_virt_busy_begin(virt)

/* The connection to use now.  A reconnect (vp_virt_ensure_alive) replaces
 * it under LOCK while other threads of a lab read it without: the pointer
 * is read and written atomically, and a replaced connection stays open
 * until the VpVirt goes, so a thread still in a call on it is safe. */
static inline virConnectPtr
vp_virt_conn(VpVirt *virt)
{
    return g_atomic_pointer_get(&virt->conn);
}

/* TEXT (a string libvirt allocated with malloc, may be NULL) as a copy
 * the caller frees with g_free, as everything else of the tool; TEXT is
 * freed. */
static inline char *
vp_virt_take(char *text)
{
    char *copy = g_strdup(text);

    free(text);
    return copy;
}

/* The mutex serialising the calls that libvirt refuses to run while
 * another one is under way in pool NAME: creating and deleting volumes and
 * refreshing (storage_driver.c: "pool has asynchronous jobs running").
 * Uploads, the long part, run in parallel.  Lives as long as VIRT. */
GMutex *vp_virt_pool_lock(VpVirt *virt, const char *name);

/* The last libvirt error of this thread as one line of text (libvirt
 * passes on multi-line messages of its helpers).  Valid until the next
 * call. */
const char *vp_virt_reason(void);

/* The last libvirt error's code (virErrorNumber), VIR_ERR_OK when none. */
int vp_virt_code(void);

/* Sets ERROR to VP_ERROR_FAILED "FORMAT...: libvirt's reason" and returns
 * FALSE, so a call site reads `return vp_virt_fail(error, ...)`. */
gboolean vp_virt_fail(GError **error, const char *format, ...)
    G_GNUC_PRINTF(2, 3);

/* Look-ups that fail with a message naming the object (and, for a missing
 * pool, how to list the pools).  The caller frees the result. */
virStoragePoolPtr vp_virt_pool(VpVirt *virt, const char *name, GError **error);
/* REFRESH first refreshes the pool: files may have appeared behind
 * libvirt's back. */
virStorageVolPtr vp_virt_volume(VpVirt *virt, const char *pool_name,
                                const char *name, gboolean refresh,
                                GError **error);
virDomainPtr vp_virt_domain(VpVirt *virt, const char *name, GError **error);
