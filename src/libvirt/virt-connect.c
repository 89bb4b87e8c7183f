/* The connection: open, reconnect, the error helpers of the layer. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "error.h"
#include "virt-private.h"

/* libvirt prints every error on stderr unless told otherwise; the tool
 * reports errors itself, once. */
static void
vp_virt_silent(void *opaque, virErrorPtr err)
{
}

/* The last libvirt error as text, for messages: one line, as every error of
 * the tool (libvirt passes on multi-line messages of helpers). */
const char *
vp_virt_reason(void)
{
    /* Per thread, as libvirt's last error is: workflows on several hosts at
     * once (labs) must not read each other's reasons. */
    static GPrivate reason_key = G_PRIVATE_INIT(g_free);
    const char *msg = virGetLastErrorMessage();
    char *reason = g_strdup(msg != NULL ? msg : _("unknown libvirt error"));

    g_strdelimit(g_strstrip(reason), "\r\n", ' ');
    g_private_replace(&reason_key, reason);
    return reason;
}

int
vp_virt_code(void)
{
    virErrorPtr err = virGetLastError();
    return err != NULL ? err->code : VIR_ERR_OK;
}

/* Always FALSE, so a call site can "return vp_virt_fail(...)"; libvirt's
 * reason follows the tool's own sentence. */
gboolean
vp_virt_fail(GError **error, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *what = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED, "%s: %s", what,
                vp_virt_reason());
    return FALSE;
}

/* A daemon that stops answering (host down, network gone, daemon stopped)
 * keeps its socket open, so without keepalive a call would wait for ever.
 * A ping goes out after VP_KEEPALIVE_INTERVAL seconds of silence, and the
 * connection is closed after VP_KEEPALIVE_COUNT unanswered ones, which
 * libvirt counts from the last message received: a silence of
 * VP_VIRT_DEAD_SECONDS, and the run is undone.  A daemon answers pings
 * from its event loop even while it is busy with a call, so only a host
 * that is gone, or a daemon stalled as a whole, is silent that long; 20 s
 * (3 pings) took a daemon stalled by load for dead. */
#define VP_KEEPALIVE_INTERVAL 5
#define VP_KEEPALIVE_COUNT (VP_VIRT_DEAD_SECONDS / VP_KEEPALIVE_INTERVAL - 1)

/* libvirt's keepalive timers run in its event loop, which must be kept
 * running for as long as any connection is open: here, for the whole
 * process. */
static gpointer
vp_virt_event_loop(gpointer data)
{
    sigset_t all;

    /* Signals belong to the main thread, whose work they interrupt. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            /* Nothing to report to; do not spin on a persistent error. */
            g_usleep(100 * 1000);
        }
    }
    return NULL;
}

static VpVirtOpenHook vp_virt_open_hook;

void
vp_virt_set_open_hook(VpVirtOpenHook hook)
{
    vp_virt_open_hook = hook;
}

static virConnectPtr
vp_virt_open(const char *uri, unsigned int flags)
{
    if (vp_virt_open_hook != NULL) {
        vp_virt_open_hook(uri, TRUE);
    }
    virConnectPtr conn = virConnectOpenAuth(uri, virConnectAuthPtrDefault, flags);
    if (vp_virt_open_hook != NULL) {
        vp_virt_open_hook(uri, FALSE);
    }

    /* Drivers without keepalive (test:///, a daemon too old for it) still
     * work, only without the protection. */
    if (conn != NULL &&
        virConnectSetKeepAlive(conn, VP_KEEPALIVE_INTERVAL,
                               VP_KEEPALIVE_COUNT) < 0) {
        virResetLastError();
    }
    return conn;
}

static void
vp_virt_close(gpointer conn)
{
    virConnectClose(conn);
}

static void
vp_virt_pool_lock_free(gpointer data)
{
    g_mutex_clear(data);
    g_free(data);
}

GMutex *
vp_virt_pool_lock(VpVirt *virt, const char *name)
{
    g_mutex_lock(&virt->lock);
    GMutex *m = g_hash_table_lookup(virt->pool_locks, name);
    if (m == NULL) {
        m = g_new0(GMutex, 1);
        g_mutex_init(m);
        g_hash_table_insert(virt->pool_locks, g_strdup(name), m);
    }
    g_mutex_unlock(&virt->lock);
    return m;
}

static VpVirt *vp_virt_connect_flags(const char *uri, unsigned int flags,
                                     VpVirtWaitFunc wait, gpointer data,
                                     GError **error);

VpVirt *
vp_virt_connect(const char *uri, VpVirtWaitFunc wait, gpointer data,
                GError **error)
{
    return vp_virt_connect_flags(uri, 0, wait, data, error);
}

VpVirt *
vp_virt_connect_readonly(const char *uri, VpVirtWaitFunc wait, gpointer data,
                         GError **error)
{
    return vp_virt_connect_flags(uri, VIR_CONNECT_RO, wait, data, error);
}

/* Why libvirt's event thread could not be started; NULL once it runs. */
static char *vp_virt_events_error;

gboolean
vp_virt_init(GError **error)
{
    static gsize initialised;

    if (g_once_init_enter(&initialised)) {
        virInitialize();
        virSetErrorFunc(NULL, vp_virt_silent);
        /* Before the first connection is opened, as libvirt requires.  A
         * thread that cannot be made (a process limit reached) is an
         * error, not GLib's abort. */
        if (virEventRegisterDefaultImpl() == 0) {
            GError *local = NULL;
            vp_virt_watch_start();
            GThread *t = g_thread_try_new("vp-virt-events", vp_virt_event_loop,
                                          NULL, &local);
            if (t != NULL) {
                g_thread_unref(t);
            } else {
                vp_virt_events_error = g_strdup(local->message);
                g_error_free(local);
            }
        }
        g_once_init_leave(&initialised, 1);
    }
    if (vp_virt_events_error != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot start libvirt's event thread: %1$s"),
                    vp_virt_events_error);
        return FALSE;
    }
    return TRUE;
}

static VpVirt *
vp_virt_connect_flags(const char *uri, unsigned int flags, VpVirtWaitFunc wait,
                      gpointer data, GError **error)
{
    if (!vp_virt_init(error)) {
        return NULL;
    }
    if (uri == NULL) {
        uri = g_getenv("LIBVIRT_DEFAULT_URI");
    }
    const char *named = uri != NULL ? uri : _("the default URI");
    /* Made first, so that a first connection that takes its time is told
     * as any call would be. */
    g_autoptr(VpVirt) virt = g_new0(VpVirt, 1);
    g_mutex_init(&virt->lock);
    g_rec_mutex_init(&virt->stream_lock);
    virt->dead = g_ptr_array_new_with_free_func(vp_virt_close);
    virt->pool_locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             vp_virt_pool_lock_free);
    virt->flags = flags;
    virt->uri = g_strdup(uri);
    vp_virt_watch_add(virt, named, wait, data);
    VpVirtBusy *busy = vp_virt_busy_begin(virt);
    virt->conn = vp_virt_open(uri, flags);
    if (virt->conn == NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("cannot connect to libvirt at '%1$s': %2$s; start a "
                      "daemon (libvirtd -d as root) or choose another with "
                      "-c URI, such as -c qemu:///session"),
                    named, vp_virt_reason());
    } else {
        virt->actual_uri = vp_virt_take(virConnectGetURI(virt->conn));
    }
    vp_virt_busy_end(busy);
    if (virt->conn == NULL) {
        return NULL;
    }
    if (virt->actual_uri == NULL) {
        virt->actual_uri = g_strdup(uri);
    }
    return g_steal_pointer(&virt);
}

void
vp_virt_free(VpVirt *virt)
{
    if (virt == NULL) {
        return;
    }
    /* First: nobody is told of a connection being closed. */
    vp_virt_watch_remove(virt);
    if (virt->conn != NULL) {
        virConnectClose(virt->conn);
    }
    g_ptr_array_unref(virt->dead);
    g_hash_table_unref(virt->pool_locks);
    g_mutex_clear(&virt->lock);
    g_rec_mutex_clear(&virt->stream_lock);
    g_free(virt->uri);
    g_free(virt->actual_uri);
    g_free(virt);
}

const char *
vp_virt_uri(VpVirt *virt)
{
    return virt->actual_uri;
}

gboolean
vp_virt_is_session(VpVirt *virt)
{
    /* The URI's path, not a substring: a socket path in the query may well
     * contain "/session" on a system URI. */
    g_autoptr(GUri) uri = virt->actual_uri != NULL
                              ? g_uri_parse(virt->actual_uri, G_URI_FLAGS_NONE, NULL)
                              : NULL;
    return uri != NULL && g_strcmp0(g_uri_get_path(uri), "/session") == 0;
}

gboolean
vp_virt_ensure_alive(VpVirt *virt, guint timeout_ms, GError **error)
{
    /* One thread reconnects (told as a wait while it lasts); the others
     * wait and then find the new connection alive. */
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&virt->lock);

    if (virConnectIsAlive(vp_virt_conn(virt)) == 1) {
        return TRUE;
    }
    VP_VIRT_BUSY(virt);
    /* A new virConnectPtr: objects looked up on the old one must be looked up
     * again by the caller.  The old one is kept until the VpVirt goes, since
     * another thread may be in a call on it. */
    gint64 deadline = g_get_monotonic_time() +
                      (virt->gave_up ? 0 : (gint64)timeout_ms * 1000);
    do {
        virConnectPtr conn = vp_virt_open(virt->uri, virt->flags);
        if (conn != NULL) {
            g_ptr_array_add(virt->dead, virt->conn);
            g_atomic_pointer_set(&virt->conn, conn);
            virt->gave_up = FALSE;
            return TRUE;
        }
        g_usleep(200 * 1000);
    } while (g_get_monotonic_time() < deadline);
    virt->gave_up = TRUE;
    g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                _("lost the connection to '%1$s' and could not reconnect"),
                virt->actual_uri);
    return FALSE;
}

/* qemu+ssh:// to this very machine still counts as remote: a URI that names a
 * host says nothing about whose files are readable here. */
gboolean
vp_virt_is_local(VpVirt *virt)
{
    /* Reads everything through libvirt as on a remote host: for checking
     * the stream paths, and for hosts whose files are not readable here. */
    if (g_getenv("VIRT_PROVISION_STREAMS_ONLY") != NULL) {
        return FALSE;
    }
    g_autoptr(GUri) uri = g_uri_parse(virt->actual_uri, G_URI_FLAGS_NONE, NULL);
    const char *host = uri != NULL ? g_uri_get_host(uri) : NULL;
    return uri != NULL && (host == NULL || host[0] == '\0');
}
