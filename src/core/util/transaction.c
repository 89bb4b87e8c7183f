#include "transaction.h"

#include <glib/gi18n.h>

#include "error.h"

typedef struct {
    char *what;
    VpUndoFunc undo;
    gpointer data;
    GDestroyNotify free_data;
} VpUndo;

struct VpTransaction {
    GPtrArray *steps; /* of VpUndo *, oldest first */
};

static void
vp_undo_free(gpointer p)
{
    VpUndo *u = p;
    if (u->free_data != NULL) {
        u->free_data(u->data);
    }
    g_free(u->what);
    g_free(u);
}

VpTransaction *
vp_transaction_new(void)
{
    VpTransaction *t = g_new0(VpTransaction, 1);
    t->steps = g_ptr_array_new_with_free_func(vp_undo_free);
    return t;
}

/* Freeing without commit is the path of every early return and of an
 * interrupt: whatever is still registered is undone, so a failed run leaves
 * nothing behind even when no caller got round to rolling back. */
void
vp_transaction_free(VpTransaction *t)
{
    if (t == NULL) {
        return;
    }
    (void)vp_transaction_rollback(t, NULL);
    g_ptr_array_unref(t->steps);
    g_free(t);
}

void
vp_transaction_push(VpTransaction *t, const char *what, VpUndoFunc undo,
                    gpointer data, GDestroyNotify free_data)
{
    VpUndo *u = g_new0(VpUndo, 1);
    u->what = g_strdup(what);
    u->undo = undo;
    u->data = data;
    u->free_data = free_data;
    g_ptr_array_add(t->steps, u);
}

/* Commit means the run's result is now the user's: the undo steps are dropped
 * (their data freed), and nothing this run created may be removed any more. */
void
vp_transaction_commit(VpTransaction *t)
{
    g_ptr_array_set_size(t->steps, 0);
}

gboolean
vp_transaction_rollback(VpTransaction *t, GError **error)
{
    g_autoptr(GString) left = g_string_new(NULL);
    g_autofree char *first_reason = NULL;

    /* Newest first: later steps build on earlier ones (a domain uses the
     * volume, the volume lives in the pool), so they must go before what they
     * depend on. */
    while (t->steps->len > 0) {
        VpUndo *u = g_ptr_array_index(t->steps, t->steps->len - 1);
        g_autoptr(GError) local = NULL;
        /* A failed undo does not stop the others: each independent thing still
         * removable should be removed, and the user is then told exactly which
         * ones are left, with the first reason. */
        if (!u->undo(u->data, &local)) {
            if (left->len > 0) {
                g_string_append(left, ", ");
            }
            g_string_append(left, u->what);
            if (first_reason == NULL) {
                first_reason = g_strdup(local->message);
            }
        }
        /* Removed even when it failed: a second rollback must not retry it. */
        g_ptr_array_remove_index(t->steps, t->steps->len - 1);
    }
    if (left->len > 0) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("could not remove what this run created: %1$s (%2$s); "
                      "remove it by hand with virsh"),
                    left->str, first_reason);
        return FALSE;
    }
    return TRUE;
}
