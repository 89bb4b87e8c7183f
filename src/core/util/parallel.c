/* Work items run from several threads at once (parallel.h). */
#include "parallel.h"

typedef struct {
    guint n;
    gint next; /* the next item to take, atomically */
    VpParallelFunc func;
    gpointer data;
} VpParallel;

static gpointer
vp_parallel_worker(gpointer data)
{
    VpParallel *p = data;

    for (;;) {
        guint i = (guint)g_atomic_int_add(&p->next, 1);
        if (i >= p->n) {
            return NULL;
        }
        p->func(i, p->data);
    }
}

void
vp_parallel_for(guint n, guint threads, VpParallelFunc func, gpointer data)
{
    VpParallel p = { n, 0, func, data };
    guint extra = MIN(n, MAX(threads, 1)) - (n > 0 ? 1 : 0);
    g_autoptr(GPtrArray) started = g_ptr_array_new();

    for (guint t = 0; t < extra; t++) {
        /* A thread that cannot be made leaves its share to the others. */
        GThread *th = g_thread_try_new("vp-parallel", vp_parallel_worker, &p, NULL);
        if (th != NULL) {
            g_ptr_array_add(started, th);
        }
    }
    vp_parallel_worker(&p);
    for (guint t = 0; t < started->len; t++) {
        g_thread_join(g_ptr_array_index(started, t));
    }
}
