/* The cloud-init NoCloud seed: user-data, meta-data and network-config on
 * an ISO 9660 volume labelled "cidata", built in memory.
 *
 * Three steps, each of which can fail only with VP_ERROR_INVALID (bad input,
 * nothing touched) until the last:
 *   vp_seed_options_parse()  the sub-option text of the command line, or a
 *                            lab manifest fills VpSeedOptions itself;
 *   vp_seed_load()           reads and validates every file and generates
 *                            what the user did not give, before anything is
 *                            created anywhere;
 *   vp_seed_iso()            the image, byte-identical for the same input.
 *
 * Messages speak of the thing ("user-data 'x.yaml' ..."), never of the
 * command-line option that carried it. */
#pragma once

#include <glib.h>

/* Each file is read whole into memory; these bound it (bytes). */
#define VP_SEED_MAX_FILE (1024 * 1024) /* user-data, meta-data, network-config */
#define VP_SEED_MAX_KEY_FILE (16 * 1024) /* one SSH public key file */

/* The files of a seed, read and checked once by vp_seed_files_load(); see
 * VpSeedOptions.files. */
typedef struct VpSeedFiles VpSeedFiles;

/* What goes into the seed.  Every string is owned by the struct (g_free);
 * NULL means "not given".  A lab manifest fills it from YAML directly, the
 * command line through vp_seed_options_parse(). */
typedef struct {
    char *user_data;         /* file name */
    char *meta_data;         /* file name */
    char *network_config;    /* file name */
    char *root_ssh_key;      /* file of public keys for root */
    char *clouduser_ssh_key; /* file of public keys for the default user */
    gboolean disable;        /* disable cloud-init after the first boot */
    /* NULL: vp_seed_load() reads the files itself.  Else a reference to
     * what vp_seed_files_load() read for these same file names, which
     * vp_seed_load() uses instead: a lab loads them once, before any host
     * is contacted, for every guest that names them. */
    VpSeedFiles *files;
} VpSeedOptions;

/* Frees the strings of OPTS, drops its files, and zeroes it; OPTS may be
 * reused. */
void vp_seed_options_clear(VpSeedOptions *opts);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpSeedOptions, vp_seed_options_clear)

/* A new VpSeedOptions with copies of O's file names and DISABLE; not its
 * FILES, which the copy's user loads or sets itself.  Free with
 * vp_seed_options_free(). */
VpSeedOptions *vp_seed_options_copy(const VpSeedOptions *o);

/* Clears and frees OPTS, which was allocated on its own (g_new0(), or
 * vp_seed_options_copy()); NULL is ignored. */
void vp_seed_options_free(VpSeedOptions *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSeedOptions, vp_seed_options_free)

/* Parses virt-install's sub-option syntax into *OPTS:
 *     user-data=FILE,meta-data=FILE,network-config=FILE,
 *     root-ssh-key=FILE,clouduser-ssh-key=FILE,disable=on
 * in any order and any subset; NULL or "" gives all unset (a bare
 * --cloud-init).  disable takes on/off, yes/no, true/false.  A file name
 * cannot contain a comma.  Unknown keys, a key given twice, a missing or
 * empty value and a bad disable value fail with VP_ERROR_INVALID and a
 * message naming the key; *OPTS is then unchanged.  On success *OPTS is
 * replaced (its old strings freed). */
gboolean vp_seed_options_parse(const char *text, VpSeedOptions *opts,
                               GError **error);

/* The field of O for NAME, one of --cloud-init's file sub-options
 * (user-data, meta-data, network-config, root-ssh-key,
 * clouduser-ssh-key); NULL for any other name (disable). */
char **vp_seed_options_slot(VpSeedOptions *o, const char *name);

/* Reads and checks every file OPTS names, as vp_seed_load() describes,
 * and the invoking user's ~/.ssh keys when OPTS names no user-data and
 * no key file.  The same failures as vp_seed_load(), with the same
 * messages.  The result does not change once made, so threads may share
 * it; it holds the bytes only (at most a few MiB).  Returns a new
 * reference. */
VpSeedFiles *vp_seed_files_load(const VpSeedOptions *opts, GError **error);

VpSeedFiles *vp_seed_files_ref(VpSeedFiles *files);
void vp_seed_files_unref(VpSeedFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSeedFiles, vp_seed_files_unref)

/* Whether A and B name the same files (user-data, meta-data,
 * network-config and key files; disable does not count), so that files
 * loaded for one serve the other. */
gboolean vp_seed_options_same_files(const VpSeedOptions *a,
                                    const VpSeedOptions *b);

/* A loaded, validated seed: the exact bytes of each file of the ISO. */
typedef struct VpSeed VpSeed;

/* Reads and validates the files OPTS names and builds the seed of a guest
 * called HOSTNAME whose instance is INSTANCE_ID (both non-empty UTF-8
 * without a leading or trailing space; any other character is data and is
 * escaped where it is written).
 *
 * Files: readable, UTF-8, at most VP_SEED_MAX_FILE bytes (key files
 * VP_SEED_MAX_KEY_FILE).  user-data must begin with "#cloud-config" (and
 * then be one YAML mapping), "#!" (a script), "#include" / "#include-once"
 * or be a MIME multipart ("Content-Type: multipart/..." with the
 * "MIME-Version" header cloud-init needs to see it as MIME).  meta-data and
 * network-config must be one YAML mapping (JSON is YAML); a meta-data file
 * that holds no YAML node at all (empty, or only comments) counts as an
 * empty mapping, as cloud-init reads it.  No YAML file may hold anchors
 * or aliases (a small file of aliases expands to gigabytes) or nest
 * mappings and lists deeper than 32 levels.  A key file holds one or more
 * OpenSSH public key lines ("ssh-ed25519 AAAA... comment", ssh-rsa,
 * ecdsa-sha2-*, sk-*); blank lines and lines starting with '#' are skipped.
 *
 * user-data of the seed:
 *  - no user-data file: a generated #cloud-config with hostname,
 *    preserve_hostname: false, the keys of the key files, and a runcmd that
 *    disables cloud-init when DISABLE is set.  Without any key file the
 *    invoking user's ~/.ssh/id_*.pub (of g_get_home_dir()) go to the
 *    default user; finding none is an error.
 *  - a user-data file and no key file nor DISABLE: the file, unchanged.
 *  - a user-data file with key files or DISABLE: a MIME multipart/mixed
 *    whose first part is the user's file, unchanged, and whose second is a
 *    generated text/cloud-config carrying the keys and the runcmd, with a
 *    merge_how that makes cloud-init append to the user's lists instead of
 *    replacing them.
 * meta-data of the seed always holds instance-id and local-hostname; a
 * user's file that has both is kept unchanged, one that lacks either gets
 * it added (and is re-emitted, losing its comments).
 *
 * Every failure is VP_ERROR_INVALID naming the file and what is wrong.
 * With OPTS->files set, no file is read: the seed is made from those, and
 * fails only for a bad HOSTNAME or INSTANCE_ID.  Safe to call from several
 * threads with options that share their files.
 * Returns a new seed; free with vp_seed_free(). */
VpSeed *vp_seed_load(const VpSeedOptions *opts, const char *hostname,
                     const char *instance_id, GError **error);

void vp_seed_free(VpSeed *seed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpSeed, vp_seed_free)

/* The files of the seed, exactly as they go into the ISO.  Owned by SEED;
 * network-config is NULL when none was given. */
GBytes *vp_seed_get_user_data(const VpSeed *seed);
GBytes *vp_seed_get_meta_data(const VpSeed *seed);
GBytes *vp_seed_get_network_config(const VpSeed *seed);

/* The ISO 9660 image of SEED: volume id "cidata", Rock Ridge and Joliet
 * names user-data, meta-data and network-config (when given), mode 0444,
 * owner 0:0, and fixed times, so the same seed gives the same bytes on
 * every run.  Its size is a multiple of 2048 bytes and bounded by the file
 * caps (a few MiB at most).  VP_ERROR_FAILED when libisofs fails.  Caller
 * unrefs. */
GBytes *vp_seed_iso(const VpSeed *seed, GError **error);
