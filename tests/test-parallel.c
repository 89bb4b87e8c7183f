/* vp_parallel_for: every item once, from at most the threads asked for. */
#include <glib.h>

#include "parallel.h"

typedef struct {
    gint *calls;      /* per item */
    gint running;     /* calls under way now */
    gint most;        /* the most ever under way at once */
    GMutex lock;
    GHashTable *threads; /* the threads that ran an item */
} VpCount;

static void
count_one(guint i, gpointer data)
{
    VpCount *c = data;
    gint now = g_atomic_int_add(&c->running, 1) + 1;

    g_mutex_lock(&c->lock);
    c->most = MAX(c->most, now);
    g_hash_table_add(c->threads, g_thread_self());
    g_mutex_unlock(&c->lock);
    /* long enough for the other threads to take items meanwhile */
    g_usleep(200);
    g_atomic_int_inc(&c->calls[i]);
    g_atomic_int_add(&c->running, -1);
}

static void
check(guint n, guint threads)
{
    VpCount c = { g_new0(gint, MAX(n, 1)), 0, 0, { 0 },
                  g_hash_table_new(g_direct_hash, g_direct_equal) };

    g_mutex_init(&c.lock);
    vp_parallel_for(n, threads, count_one, &c);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpint(c.calls[i], ==, 1);
    }
    g_assert_cmpint(c.running, ==, 0);
    g_assert_cmpint(c.most, <=, (gint)MAX(threads, 1));
    g_assert_cmpuint(g_hash_table_size(c.threads), <=, MAX(MIN(n, threads), 1));
    if (n == 0) {
        g_assert_cmpuint(g_hash_table_size(c.threads), ==, 0);
    }
    /* with one thread, the caller's runs every item */
    if (threads <= 1 && n > 0) {
        g_assert_cmpuint(g_hash_table_size(c.threads), ==, 1);
        g_assert_true(g_hash_table_contains(c.threads, g_thread_self()));
    }
    g_hash_table_unref(c.threads);
    g_mutex_clear(&c.lock);
    g_free(c.calls);
}

static void
test_table(void)
{
    static const guint cases[][2] = {
        /* items, threads */
        { 0, 5 }, { 1, 5 }, { 2, 5 }, { 5, 5 }, { 6, 5 }, { 100, 5 },
        { 1000, VP_PARALLEL_CALLS }, { 10, 1 }, { 10, 0 }, { 3, 64 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        check(cases[i][0], cases[i][1]);
    }
}

/* Items in flight together: with slow items and enough of them, more
 * than one thread works at once. */
static void
test_overlap(void)
{
    VpCount c = { g_new0(gint, 200), 0, 0, { 0 },
                  g_hash_table_new(g_direct_hash, g_direct_equal) };

    g_mutex_init(&c.lock);
    vp_parallel_for(200, 4, count_one, &c);
    g_assert_cmpint(c.most, >, 1);
    g_assert_cmpint(c.most, <=, 4);
    g_hash_table_unref(c.threads);
    g_mutex_clear(&c.lock);
    g_free(c.calls);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/parallel/table", test_table);
    g_test_add_func("/parallel/overlap", test_overlap);
    return g_test_run();
}
