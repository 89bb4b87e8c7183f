/* The parts of the NoCloud seed, private to src/core/seed/.
 *
 *   seed.c       the seed model: options, the files read once
 *                (VpSeedFiles), a guest's seed (VpSeed)
 *   seed-data.c  user-data and meta-data: the user's checked as cloud-init
 *                reads them, ours generated (YAML, MIME)
 *   seed-keys.c  SSH public key files
 *   seed-iso.c   the ISO 9660 image
 *
 * Every failure is VP_ERROR_INVALID naming the file and what is wrong. */
#pragma once

#include <glib.h>

#include "seed.h"

struct fy_document;

/* What the user's user-data is, by its start, as cloud-init tells. */
typedef enum {
    VP_USER_DATA_CLOUD_CONFIG,
    VP_USER_DATA_SCRIPT,
    VP_USER_DATA_INCLUDE,
    VP_USER_DATA_INCLUDE_ONCE,
    VP_USER_DATA_MULTIPART,
} VpUserDataKind;

/* ------------------------------------------------------------------ */
/* seed-keys.c */

/* Appends the key lines of the key file PATH to KEYS (trimmed; blank and
 * '#' lines skipped): at least one key, and every other line a key.
 * FOUND_BY_US: the file is one of ~/.ssh's, whose certificate lines are
 * skipped rather than refused. */
gboolean vp_ssh_keys_read(const char *path, gboolean found_by_us,
                          GPtrArray *keys, GError **error);

/* Appends the invoking user's ~/.ssh/id_*.pub keys to KEYS, in name order;
 * finding none is an error. */
gboolean vp_ssh_keys_of_user(GPtrArray *keys, GError **error);

/* ------------------------------------------------------------------ */
/* seed-data.c */

/* Reads PATH (a YAML mapping, WHAT in messages) into bytes; *DOC gets its
 * tree (NULL when it holds no node, which EMPTY_OK allows). */
GBytes *vp_seed_read_mapping(const char *path, const char *what,
                             gboolean empty_ok, struct fy_document **doc,
                             GError **error);

/* Classifies the user's user-data TEXT (LEN bytes, from PATH) into *KIND
 * and checks what can be checked; *HAS_USERS tells whether a cloud-config
 * has a users key. */
gboolean vp_user_data_check(const char *text, gsize len, const char *path,
                            VpUserDataKind *kind, gboolean *has_users,
                            GError **error);

/* The cloud-config we generate: the hostname only when it is the whole
 * user-data (with a user's file, meta-data's local-hostname names the
 * guest and the user's file may set its own), MERGE when it is a part
 * after the user's. */
typedef struct {
    const char *hostname;   /* NULL: leave it to the user's part */
    gboolean merge;         /* second part of a multipart: carry merge_how */
    gboolean keep_users;    /* the user's part has its own users list */
    GPtrArray *root_keys;   /* may be empty */
    GPtrArray *user_keys;   /* may be empty */
    gboolean disable;
} VpCloudConfig;

/* CC as a #cloud-config document.  Caller frees. */
char *vp_cloud_config_emit(const VpCloudConfig *cc);

/* USER (USER_LEN bytes, of KIND) and OURS as one multipart/mixed message,
 * the user's first.  Caller frees. */
char *vp_mime_build(const char *user, gsize user_len, VpUserDataKind kind,
                    const char *ours);

/* The user's meta-data DOC (NULL: it held nothing; changed) with
 * instance-id and local-hostname added where missing; NULL when nothing
 * is missing, so that the user's file is kept byte for byte.  Caller
 * frees. */
char *vp_meta_data_complete(struct fy_document *doc, const char *instance_id,
                            const char *hostname);
