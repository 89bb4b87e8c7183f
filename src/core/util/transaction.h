/* Undo lists for workflows: every step that creates something registers
 * how to remove it; on failure or interrupt the steps are undone newest
 * first, and nothing that existed before is touched. */
#pragma once

#include <glib.h>

typedef gboolean (*VpUndoFunc)(gpointer data, GError **error);

typedef struct VpTransaction VpTransaction;

VpTransaction *vp_transaction_new(void);
/* Rolls back what is still registered (errors are dropped: call
 * vp_transaction_rollback first to learn them), then frees. */
void vp_transaction_free(VpTransaction *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpTransaction, vp_transaction_free)

/* Registers UNDO(DATA) for the step WHAT (a phrase for messages, such as
 * "volume 'x' in pool 'y'"); FREE_DATA releases DATA afterwards. */
void vp_transaction_push(VpTransaction *t, const char *what, VpUndoFunc undo,
                         gpointer data, GDestroyNotify free_data);

/* Everything succeeded: forget the undo steps. */
void vp_transaction_commit(VpTransaction *t);

/* Undoes every registered step, newest first, even past failures.  Returns
 * FALSE when some could not be undone, with an error naming what was left
 * behind. */
gboolean vp_transaction_rollback(VpTransaction *t, GError **error);
