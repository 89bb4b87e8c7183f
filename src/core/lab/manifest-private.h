/* The parts of the lab manifest's reader, private to src/core/lab/.
 *
 *   manifest.c         the lab: the top level, hosts, the entry points of
 *                      manifest.h
 *   manifest-guests.c  defaults and guest entries, merged and expanded
 *   manifest-keys.c    the schema: which keys there are, what each takes
 *                      (by the option schema), names, suggestions
 *   manifest-files.c   the files of this machine a manifest may name
 *   manifest-yaml.c    the YAML subset, read into a small tree (VpYNode),
 *                      and the messages every part reports with
 *   manifest-hash.c    the drift fingerprint of a guest
 *
 * Each part uses only those below it in this list (the hash, apart, only
 * vp_open_regular()).
 *
 * Every function that fails reports VP_ERROR_INVALID through
 * vp_lab_error(), "FILE:LINE:COLUMN: message", and returns FALSE (or NULL).
 * Nodes and their text are borrowed from the tree, which outlives the
 * parse. */
#pragma once

#include <glib.h>

#include "manifest.h"
#include "provision-options.h"

/* ------------------------------------------------------------------ */
/* manifest-yaml.c: context and messages */

typedef struct {
    const char *path; /* as given, for messages */
    char *dir;        /* absolute directory of the manifest */
    /* The folders beneath which the files a manifest names may be (their
     * real paths): the manifest's own directory, when it exists, and each
     * --allow-path folder. */
    GPtrArray *roots;
    const char *text; /* the manifest, LEN bytes */
    gsize len;
    /* The lab networks read so far: key -> VpLabNetwork (borrowed from the
     * lab), for the guests' network values that name one. */
    GHashTable *networks;
} VpLabCtx;

/* Sets ERROR to "PATH:LINE:COLUMN: MESSAGE", the form compilers use, so
 * editors jump to the place.  FORMAT is a whole translated message. */
void vp_lab_error(GError **error, const VpLabCtx *ctx, guint line,
                  guint column, const char *format, ...) G_GNUC_PRINTF(5, 6);

/* Puts the position in front of CAUSE, an error of another module (a
 * size, a URI), into ERROR; takes CAUSE. */
void vp_lab_locate(GError **error, const VpLabCtx *ctx, guint line,
                   guint column, GError *cause);

/* ------------------------------------------------------------------ */
/* manifest-yaml.c: the YAML tree */

typedef enum {
    VP_Y_SCALAR,
    VP_Y_MAPPING,
    VP_Y_SEQUENCE,
} VpYKind;

typedef struct VpYNode VpYNode;
struct VpYNode {
    VpYKind kind;
    guint line, column; /* 1-based; 0 until known (an implicit start) */
    char *text;         /* scalar content, NUL-terminated */
    gboolean plain;     /* a plain scalar, whose text may mean null, a
                         * boolean or a number; quoted ones are strings */
    GPtrArray *items;   /* sequence: values; mapping: key, value, ... */
    GHashTable *keys;   /* while a mapping is read: key text -> key node */
};

/* Frees the node DATA and all beneath it; NULL is ignored. */
void vp_ynode_free(gpointer data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpYNode, vp_ynode_free)

/* Whether N is a plain null: empty, ~ or null. */
gboolean vp_y_is_null(const VpYNode *n);

/* 1 for true, 0 for false, -1 for anything else (YAML 1.2's core schema:
 * yes, no, on and off are no booleans here). */
int vp_y_bool(const VpYNode *n);

/* Reads the LEN bytes of TEXT, CTX's manifest, into a tree (*ROOT, which
 * the caller frees): one document of UTF-8 without anchors, aliases, tags
 * or a NUL, each key once per mapping, nested at most 16 deep.  *ROOT is
 * NULL, without error, when the text holds no node or only a null one. */
gboolean vp_lab_yaml_read(const VpLabCtx *ctx, const char *text, gsize len,
                          VpYNode **root, GError **error);

/* ------------------------------------------------------------------ */
/* manifest-keys.c: the schema */

/* The provision option NAME when a lab may set it (VP_OPT_LAB), else
 * NULL. */
const VpOptionInfo *vp_key_info(const char *name);

/* Validates VALUE for the provision key INFO (not cloud-init, which is
 * vp_parse_cloud_init()'s).  *TEXT gets the value text to record, or NULL
 * for a flag given false (absent). */
gboolean vp_check_value(const VpLabCtx *ctx, const VpOptionInfo *info,
                        const VpYNode *key, const VpYNode *value, char **text,
                        GError **error);

/* cloud-init: true (a seed of the defaults), false (none: absent, or
 * removing the one of defaults) or a mapping of the seed's options, whose
 * files are checked as vp_lab_file() checks them.  *SEED is NULL for
 * false. */
gboolean vp_parse_cloud_init(const VpLabCtx *ctx, const VpYNode *key,
                             const VpYNode *value, VpSeedOptions **seed,
                             GError **error);

/* Refuses KEY, which is no provision key, with the most useful message;
 * IN_DEFAULTS: it stands in defaults, not in a guest. */
void vp_unknown_key(const VpLabCtx *ctx, const VpYNode *key,
                    gboolean in_defaults, GError **error);

/* The one known key within edit distance 2 of KEY that is nearer than any
 * other, or NULL.  The known keys are NAMES (NULL-terminated, may be NULL)
 * and, with GUEST_KEYS, the provision keys. */
const char *vp_suggest(const char *key, const char *const *names,
                       gboolean guest_keys);

/* A value that must be one scalar: refuses collections (at the value) and
 * null or empty text (at the key).  EXAMPLE is a valid value for the
 * message. */
gboolean vp_expect_scalar(const VpLabCtx *ctx, const VpYNode *key,
                          const VpYNode *value, const char *example,
                          GError **error);

/* As vp_expect_scalar(), and no boolean: a number is text as written. */
gboolean vp_expect_text(const VpLabCtx *ctx, const VpYNode *key,
                        const VpYNode *value, const char *example,
                        GError **error);

/* Refuses a quoted VALUE of a key that takes a number or a boolean; HINT
 * (N_()) says what it takes. */
gboolean vp_refuse_quoted(const VpLabCtx *ctx, const VpYNode *key,
                          const VpYNode *value, const char *hint,
                          GError **error);

/* "invalid 'KEY' value 'VALUE'; use HINT" (HINT is N_()). */
void vp_invalid_value(GError **error, const VpLabCtx *ctx, const VpYNode *key,
                      const VpYNode *value, const char *hint);

/* A plain decimal number in MIN..MAX, without sign or leading zero. */
gboolean vp_parse_integer(const char *text, guint64 min, guint64 max,
                          guint64 *out);

typedef enum {
    VP_NAME_LAB,
    VP_NAME_HOST,
    VP_NAME_GUEST,
    VP_NAME_NETWORK,
} VpNameRole;

/* Whether the scalar N is a valid name of a lab, host or guest (ROLE, for
 * the message): 1 to VP_LAB_MAX_NAME letters, digits, '-', '_' or '.',
 * starting with a letter or digit. */
gboolean vp_check_name(const VpLabCtx *ctx, const VpYNode *n, VpNameRole role,
                       GError **error);

/* ------------------------------------------------------------------ */
/* manifest-files.c: files of this machine */

/* The real path of the folder DIR into ROOTS.  A missing manifest folder
 * (a manifest parsed from memory) is no root; a missing --allow-path
 * folder (ALLOWED) is an error, without a position. */
gboolean vp_lab_add_root(GPtrArray *roots, const char *dir, gboolean allowed,
                         GError **error);

/* A file the tool reads on this machine, named by VALUE of KEY, checked
 * through the descriptor it opens: beneath one of CTX's roots by its real
 * path, a readable regular file, and with IMAGE a disk image
 * (vp_source_identify).  *REAL gets the real absolute path, which is what
 * later code must read. */
gboolean vp_lab_file(const VpLabCtx *ctx, const VpYNode *key,
                     const VpYNode *value, gboolean image, char **real,
                     GError **error);

/* Opens PATH, a real path (vp_lab_file), for reading, refusing a symlink
 * put in its place since.  Returns the descriptor, -1 with errno set when
 * PATH cannot be opened, or VP_NOT_REGULAR. */
#define VP_NOT_REGULAR (-2)
int vp_open_regular(const char *path);

/* ------------------------------------------------------------------ */
/* manifest-guests.c: defaults and guests */

typedef struct {
    char *text; /* NULL: given as false, which removes a default */
    char *file; /* base given as a path: its real path (vp_lab_file) */
    guint line, column;
} VpOptValue;

/* The provision keys of one guest entry or of defaults. */
typedef struct {
    GHashTable *values; /* key (static: the schema's name) -> VpOptValue */
    VpSeedOptions *seed; /* with values["cloud-init"] true; else NULL */
} VpKeySet;

void vp_key_set_init(VpKeySet *s);
void vp_key_set_clear(VpKeySet *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpKeySet, vp_key_set_clear)

/* A lab as it is read. */
typedef struct {
    const VpLabCtx *ctx;
    VpLab *lab;
    VpKeySet defaults;
    GHashTable *names; /* guest name -> VpNameSite (owned) */
} VpLabBuild;

/* The value of 'defaults' into B->defaults. */
gboolean vp_parse_defaults(VpLabBuild *b, const VpYNode *value,
                           GError **error);

/* Adds the guests of one entry of 'guests' to B->lab (with B->defaults
 * under its own keys, and a count expanded); the hosts are read. */
gboolean vp_parse_guest(VpLabBuild *b, const VpYNode *entry, GError **error);

/* ------------------------------------------------------------------ */
/* manifest-networks.c: lab networks */

/* The value of 'networks' into LAB->networks (and CTX->networks); the
 * hosts are read, since each gets a /24 of every network. */
gboolean vp_parse_networks(const VpLabCtx *ctx, VpLab *lab, const VpYNode *key,
                           const VpYNode *value, GError **error);

/* TEXT, one value of a guest's network, with a lab network named by its
 * key ("lan", or "network=lan,...") turned into the network's name on
 * the hosts ("network=LAB-lan,..."); other values as they are.  Caller
 * frees. */
char *vp_lab_network_value(const VpLabCtx *ctx, const char *text);

/* The fixed addresses of guest NAME (pinned to HOST, NULL: placed) on
 * lab networks, in NETWORK (its network option's lines, NULL: none): a
 * placed guest has none (its host, and so its /24, is not known before
 * the plan), a pinned one's is in its host's /24 of the network.  The
 * error is at LINE:COLUMN. */
gboolean vp_lab_check_addresses(const VpLabCtx *ctx, const VpLab *lab,
                                const char *name, const char *host,
                                const char *network, guint line, guint column,
                                GError **error);

/* Frees DATA, a VpLabNetwork. */
void vp_lab_network_free(gpointer data);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpLabNetwork, vp_lab_network_free)

/* Frees DATA, a VpLabGuest. */
void vp_lab_guest_free(gpointer data);
