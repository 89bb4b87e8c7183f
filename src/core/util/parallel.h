/* Work items run from several threads at once.
 *
 * A call to a remote daemon costs a round trip; libvirt's connection lets
 * several threads have calls in flight together, so reading N things of a
 * host from a few threads costs about N / threads round trips instead of N.
 *
 *     static void read_one(guint i, gpointer data) { ... item i ... }
 *     vp_parallel_for(items->len, VP_PARALLEL_CALLS, read_one, items);
 */
#pragma once

#include <glib.h>

/* Calls in flight per connection when a host is read: libvirtd serves
 * max_client_requests (5 by default) of one client at once and holds the
 * others back, so more would only queue. */
#define VP_PARALLEL_CALLS 5

typedef void (*VpParallelFunc)(guint index, gpointer data);

/* Calls FUNC(I, DATA) once for every I in 0..N-1, from at most THREADS
 * threads at once (the caller's among them), in no particular order;
 * returns when every call has returned.  FUNC must be safe to run in
 * several threads at once: each call writes only what belongs to I. */
void vp_parallel_for(guint n, guint threads, VpParallelFunc func,
                     gpointer data);
