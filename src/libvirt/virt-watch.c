/* Waiting for daemons: how long the calls of each connection have waited
 * for an answer, told to the connection's owner while they wait.
 *
 * A daemon that is slow (a capability probe, a first connection, a host
 * under load) or stalled for a while is waited for; the user sees that it
 * is and for whom.  Only keepalive (virt-connect.c) gives up on one, after
 * a silence long enough to mean the host is gone.
 *
 * Every function of this layer that calls the daemon marks itself busy
 * (VP_VIRT_BUSY); a wait starts when the first call of a connection does
 * and starts again each time one returns, which is the daemon answering.
 * A timer on libvirt's event thread looks at every connection once a
 * second and tells its VpVirtWaitFunc of a long wait; the thread whose
 * call ends such a wait tells its end.  Neither side ever blocks on the
 * other: the bookkeeping is a few fields under a mutex held for no call. */
#include "virt-private.h"

/* Seconds of a wait between two reports; the first comes after as long:
 * a quick call (most take milliseconds, a capability probe a few seconds)
 * says nothing. */
#define VP_VIRT_WAIT_STEP 10

/* The connections alive, for the timer; WATCH_LOCK also keeps each one
 * alive while its owner is told, since vp_virt_watch_remove takes it. */
static GMutex vp_watch_lock;
static GPtrArray *vp_watched;

/* Whether the wait of VIRT is due to be told at NOW, and as how many
 * SECONDS. */
static gboolean
vp_virt_watch_due(VpVirt *virt, gint64 now, guint *seconds)
{
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&virt->watch.lock);
    VpVirtWatch *w = &virt->watch;

    if (w->busy == 0) {
        return FALSE;
    }
    guint waited = (guint)((now - w->since) / G_USEC_PER_SEC);
    if (waited < w->reported + VP_VIRT_WAIT_STEP) {
        return FALSE;
    }
    w->reported = waited - waited % VP_VIRT_WAIT_STEP;
    *seconds = w->reported;
    return TRUE;
}

/* libvirt's event thread, once a second. */
static void
vp_virt_watch_tick(int timer, void *opaque)
{
    gint64 now = g_get_monotonic_time();
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&vp_watch_lock);

    for (guint i = 0; vp_watched != NULL && i < vp_watched->len; i++) {
        VpVirt *virt = g_ptr_array_index(vp_watched, i);
        guint seconds = 0;
        if (virt->watch.func != NULL && vp_virt_watch_due(virt, now, &seconds)) {
            virt->watch.func(virt->watch.uri, seconds, FALSE, virt->watch.data);
        }
    }
}

void
vp_virt_watch_start(void)
{
    /* After virEventRegisterDefaultImpl, once per process.  Should libvirt
     * refuse the timer, waits go untold, which changes nothing else. */
    if (virEventAddTimeout(1000, vp_virt_watch_tick, NULL, NULL) < 0) {
        virResetLastError();
    }
}

void
vp_virt_watch_add(VpVirt *virt, const char *uri, VpVirtWaitFunc func,
                  gpointer data)
{
    VpVirtWatch *w = &virt->watch;

    g_mutex_init(&w->lock);
    w->func = func;
    w->data = data;
    w->uri = g_strdup(uri);
    G_GNUC_UNUSED g_autoptr(GMutexLocker) locker =
        g_mutex_locker_new(&vp_watch_lock);
    if (vp_watched == NULL) {
        vp_watched = g_ptr_array_new();
    }
    g_ptr_array_add(vp_watched, virt);
}

void
vp_virt_watch_remove(VpVirt *virt)
{
    g_mutex_lock(&vp_watch_lock);
    g_ptr_array_remove_fast(vp_watched, virt);
    g_mutex_unlock(&vp_watch_lock);
    g_mutex_clear(&virt->watch.lock);
    g_free(virt->watch.uri);
}

VpVirtBusy *
vp_virt_busy_begin(VpVirt *virt)
{
    VpVirtWatch *w = &virt->watch;

    g_mutex_lock(&w->lock);
    if (w->busy++ == 0) {
        w->since = g_get_monotonic_time();
        w->reported = 0;
    }
    g_mutex_unlock(&w->lock);
    return virt;
}

void
vp_virt_busy_end(VpVirtBusy *virt)
{
    VpVirtWatch *w = &virt->watch;
    gint64 now = g_get_monotonic_time();
    virConnectPtr conn = vp_virt_conn(virt);
    /* A call that ends because keepalive closed the connection (or one
     * that never opened) got no answer: its error says so. */
    gboolean alive = conn != NULL && virConnectIsAlive(conn) == 1;

    guint answered = 0;

    /* A call came back: the daemon answered, and whatever else is still
     * under way waits from now on.  A wait that was told is told ended,
     * here, before the caller goes on to say what it does next. */
    g_mutex_lock(&w->lock);
    w->busy--;
    if (w->reported > 0 && alive) {
        answered = MAX((guint)((now - w->since) / G_USEC_PER_SEC), 1);
    }
    w->reported = 0;
    w->since = now;
    g_mutex_unlock(&w->lock);
    if (answered > 0 && w->func != NULL) {
        w->func(w->uri, answered, TRUE, w->data);
    }
}
