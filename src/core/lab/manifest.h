/* A lab manifest: the YAML file that names a lab, its libvirt hosts, the
 * defaults of its guests and the guests themselves (design.md, "Labs").
 *
 * Loading reads, parses and validates the whole file before anything is
 * contacted: every violation is VP_ERROR_INVALID with one line of the form
 *     FILE:LINE:COLUMN: what is wrong; what to do
 * (LINE and COLUMN count from 1, COLUMN in characters).  The manifest
 * speaks of keys: a guest key is a provision option by its long name
 * without the dashes ("disk-bus: sata"), flags take true.
 *
 * The YAML is deliberately a small subset: one document, no anchors or
 * aliases (no "billion laughs"), no tags, only scalar keys, each key once
 * per mapping, UTF-8, at most VP_LAB_MAX_FILE bytes.  JSON, being YAML,
 * is accepted. */
#pragma once

#include <glib.h>

#include "lab-net.h"
#include "seed.h"

#define VP_LAB_MAX_FILE (1024 * 1024) /* bytes of a manifest */
#define VP_LAB_MAX_NAME 64            /* characters of a lab, host or guest name */
#define VP_LAB_MAX_COUNT 1000         /* the largest count of one entry */
#define VP_LAB_MAX_GUESTS 10000       /* guests of a lab after expansion */

typedef struct {
    char *name;
    char *uri;           /* as written; libvirt parses it */
    guint line, column;  /* of the host's key, for messages */
} VpLabHost;

typedef struct {
    char *name;          /* after count expansion: web-1 .. web-N */
    char *manifest_name; /* the entry's name: "web" */
    char *host;          /* pinned host name, NULL: placed by the planner */
    /* Provision key (long option name without dashes) -> value text as
     * written (a size stays "20G"; a flag is "true"; wait is "true" or
     * its seconds; a list one value per line; network's values as a
     * command line gives them, a lab network named by its host name:
     * "network=LAB-KEY,ip=...").  The defaults are merged under the
     * guest's own keys; a guest's "false" removes a default flag.  Never
     * holds name, host, count or cloud-init (which is CLOUD_INIT). */
    GHashTable *options;
    /* OPTIONS["base"] when it is a path (vp_lab_base_is_file): the real
     * absolute path that was checked, which is the one to read; else
     * NULL.  OPTIONS keeps the text as written, for the hash. */
    char *base_file;
    /* NULL without one; file paths are the real absolute paths checked */
    VpSeedOptions *cloud_init;
    guint line, column;  /* of the entry, for messages */
} VpLabGuest;

typedef enum {
    VP_LAB_NET_NAT,      /* guests reach out through the host's NAT */
    VP_LAB_NET_ISOLATED, /* guests reach each other and the host only */
    VP_LAB_NET_ROUTE,    /* routed: each host's /24 reachable from outside
                          * where the site routes it */
} VpLabNetMode;

/* A lab network (networks: KEY: {cidr, mode, domain}): the libvirt
 * network NAME on every host with a guest of the lab, each host's copy
 * on its own /24 of CIDR (vp_lab_host_subnet, the host's index in
 * hosts:). */
typedef struct {
    char *key;           /* "lan" */
    char *name;          /* "LAB-KEY": its name on the hosts */
    VpIpv4Net cidr;
    char *cidr_text;     /* as written */
    VpLabNetMode mode;
    char *domain;        /* DNS domain of the guests' names; NULL: none */
    guint line, column;  /* of the key, for messages */
} VpLabNetwork;

typedef struct {
    char *lab;
    char *path;          /* the manifest as given to vp_lab_load/parse */
    GPtrArray *hosts;    /* VpLabHost *, in manifest order */
    GPtrArray *networks; /* VpLabNetwork *, in manifest order; may be empty */
    GPtrArray *guests;   /* VpLabGuest *, in manifest order, counts expanded
                          * in place (web-1 .. web-N, then the next entry) */
} VpLab;

/* Reads the manifest at PATH (refusing more than VP_LAB_MAX_FILE bytes
 * without reading them) and parses it as vp_lab_parse() does.  A file
 * that cannot be read is VP_ERROR_INVALID without a position.  Returns a
 * new lab; free with vp_lab_free(). */
VpLab *vp_lab_load(const char *path, const char *const *allowed,
                   GError **error);

/* Parses and validates the LEN bytes of TEXT (which need not be
 * NUL-terminated) as the manifest at PATH: PATH names the file in
 * messages, and relative file names resolve against its directory.
 *
 * The files the tool will read on this machine (cloud-init files, and a
 * base that is a path) must resolve, by their real paths, beneath the
 * manifest's directory or beneath one of the ALLOWED folders
 * (NULL-terminated, may be NULL; --allow-path): a manifest from someone
 * else must not reach a file elsewhere ("..", an absolute path, a symlink
 * that leads out).  Each must be a readable regular file, and a base a
 * disk image (vp_source_identify); cloud-init content is the seed module's
 * to validate (vp_seed_load).  Host URIs must pass vp_uri_check.  Nothing
 * else outside TEXT is looked at.  An ALLOWED folder that does not exist
 * is VP_ERROR_INVALID without a position.  Returns a new lab, or NULL with
 * VP_ERROR_INVALID. */
VpLab *vp_lab_parse(const char *text, gsize len, const char *path,
                    const char *const *allowed, GError **error);

/* Whether BASE, a guest's base, names a file of this machine rather than
 * a volume ("VOL" or "POOL/VOL"): a path as a shell user writes one,
 * starting with '/', './' or '../'. */
gboolean vp_lab_base_is_file(const char *base);

void vp_lab_free(VpLab *lab);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpLab, vp_lab_free)

/* The string form of MODE: "nat", "isolated" or "route". */
const char *vp_lab_net_mode_to_string(VpLabNetMode mode);

/* Looks up the lab network named NAME on the hosts ("LAB-KEY"); NULL when
 * none.  Borrowed from LAB. */
const VpLabNetwork *vp_lab_find_network(const VpLab *lab, const char *name);

/* Looks up the guest called NAME (after expansion); NULL when none.
 * Borrowed from LAB. */
const VpLabGuest *vp_lab_find_guest(const VpLab *lab, const char *name);

/* The drift fingerprint of G: lowercase hex SHA-256 of its resolved
 * options in sorted key order and of its cloud-init settings, where each
 * file counts by its CONTENT (read now, at most VP_SEED_MAX_FILE bytes,
 * key files VP_SEED_MAX_KEY_FILE), not by its path.  The guest's name and
 * host are not part of it: they say where a guest is, not what it is.
 * Values count as written, so "20G" and "20480M" differ.  Fails with
 * VP_ERROR_INVALID when a file cannot be read or is too large.  Caller
 * frees. */
char *vp_lab_guest_options_hash(const VpLabGuest *g, GError **error);
