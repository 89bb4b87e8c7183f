/* The one schema of provision's options (design.md DISK, DOMAIN, IMAGE).
 *
 * Every fact about an option lives in one row of one table: its long name
 * (which is also its key in a lab manifest), short name, kind, range or
 * choices, sub-options, help text and placeholder, an example value, the
 * hint that says what it takes, whether a lab guest may set it, and the
 * field that holds its text.  The command line builds its GOption entries,
 * help and "needs a value" examples from the table (src/cli); the manifest
 * validates a guest's keys against it and sets the same fields directly
 * (src/core/lab); tests/option_schema.py checks --help, the man page, the
 * completion and zh_CN against it.  A new option is one new row.
 *
 * Values stay text until a command resolves them (provision-args.c,
 * disk-args.c), so that the command line and a manifest give a guest the
 * same options by the same road. */
#pragma once

#include <glib.h>

#include "domain-xml.h"

/* The text of the DISK options: NULL (FALSE) when not given.  Owned. */
typedef struct {
    char *format;
    char *preallocation;
    char *cluster_size;
    char *compat;
    char *refcount_bits;
    gboolean lazy_refcounts;
    gboolean extended_l2;
    char *backing;
    char *backing_format;
} VpDiskArgs;

/* The text of provision's DOMAIN and IMAGE options.  Owned. */
typedef struct {
    char *pool;
    char *name;
    char *size;
    char *memory;
    char *vcpus;
    char *virt_type;
    char *arch;
    char *machine;
    char *cdrom;
    char *kernel;
    char *initrd;
    char *cmdline;
    gboolean import;
    char **network;       /* one NIC each, in order (repeatable) */
    char *graphics;
    char *disk_bus;
    char *cache;
    char *io;
    char *discard;
    gboolean no_define;
    gboolean print_xml;
    gboolean dry_run;
    gboolean start;
    gboolean autostart;
    char *base;
    char *cloud_init;     /* the sub-options; "" for a bare --cloud-init */
    gboolean wait;        /* --wait, with or without a value */
    char *wait_seconds;   /* its value; NULL for a bare --wait */
} VpProvisionArgs;

typedef enum {
    VP_OPT_TEXT,        /* any non-empty text */
    VP_OPT_FILE,        /* a file name (GOption's filename encoding) */
    VP_OPT_SIZE,        /* vp_size_parse(), optionally a power of two in range */
    VP_OPT_MEMORY,      /* a size, or a bare number of MiB (as virt-install) */
    VP_OPT_INTEGER,     /* a plain decimal number in range */
    VP_OPT_CHOICE,      /* one of CHOICES, or what ACCEPTS takes */
    VP_OPT_FLAG,        /* no value; "true" in a manifest */
    VP_OPT_WAIT,        /* no value, or a number of seconds in range */
    VP_OPT_SUBOPTIONS,  /* key=value,... from SUBS (vp_suboptions_parse) */
} VpOptKind;

typedef enum {
    VP_OPT_LAB = 1 << 0,            /* a lab guest (or defaults) may set it */
    VP_OPT_VALUE_OPTIONAL = 1 << 1, /* --wait and --cloud-init stand alone */
    VP_OPT_DISK = 1 << 2,           /* a DISK option: a VpDiskArgs field */
    VP_OPT_REPEATABLE = 1 << 3,     /* each use adds a value: a GStrv field;
                                     * a list in a manifest */
} VpOptFlags;

typedef enum {
    VP_SUB_TEXT,        /* key=TEXT */
    VP_SUB_FILE,        /* key=FILE */
    VP_SUB_SWITCH,      /* key=on|off */
    VP_SUB_WORD,        /* the key alone, no value */
} VpSubKind;

typedef struct {
    const char *name;
    VpSubKind kind;
} VpSubOption;

typedef struct {
    const char *name;              /* long option, manifest key */
    char short_name;               /* 0: none */
    VpOptKind kind;
    guint flags;                   /* VpOptFlags */
    gsize offset;                  /* of the field in VpProvisionArgs, or
                                    * in VpDiskArgs with VP_OPT_DISK */
    const char *arg;               /* N_(): --help's placeholder; NULL: flag */
    const char *help;              /* N_(): --help's text */
    const char *example;           /* a valid value, for messages */
    const char *hint;              /* N_(): what it takes, for messages;
                                    * SUBOPTIONS: the keys, "a, b or c" */
    guint64 min, max;              /* INTEGER, SIZE, WAIT (max 0: unbounded) */
    gboolean power_of_two;         /* INTEGER, SIZE */
    const char *const *choices;    /* CHOICE, NULL-terminated */
    gboolean (*accepts)(const char *); /* CHOICE, instead of CHOICES */
    const VpSubOption *subs;       /* SUBOPTIONS, ends with a NULL name */
    const char *sub_noun;          /* N_(): SUBOPTIONS, "seed option" */
} VpOptionInfo;

/* The table, in --help order; *N gets its length. */
const VpOptionInfo *vp_options(gsize *n);

/* The option called NAME (a long name without dashes), or NULL. */
const VpOptionInfo *vp_option_find(const char *name);

/* Whether TEXT is a valid value of INFO, as its kind, range, choices and
 * sub-options say (FLAG: "true" or "false"; WAIT: those or a number of
 * seconds; a repeatable option: each line of TEXT, and the lines
 * together).  Pure: the caller words the error with INFO->hint. */
gboolean vp_option_value_ok(const VpOptionInfo *info, const char *text);

/* Stores TEXT as INFO's value into P or, for a DISK option, D: a copy for
 * text, TRUE for a flag given "true" or NULL (nothing for "false"); WAIT
 * takes "true" or NULL as a bare --wait and a number as its seconds; a
 * bare cloud-init (NULL) is ""; a repeatable option appends each line of
 * TEXT (a manifest's list, joined by newlines).  No check:
 * vp_option_value_ok comes first.  D may be NULL when INFO is not a DISK
 * option. */
void vp_option_set(const VpOptionInfo *info, VpProvisionArgs *p, VpDiskArgs *d,
                   const char *text);

/* Where INFO's text lives in P or D: the char * of a value, or NULL for
 * a flag (vp_option_flag) or a repeatable option (vp_option_list, its
 * GStrv). */
char **vp_option_text(const VpOptionInfo *info, VpProvisionArgs *p,
                      VpDiskArgs *d);
char ***vp_option_list(const VpOptionInfo *info, VpProvisionArgs *p,
                       VpDiskArgs *d);
gboolean *vp_option_flag(const VpOptionInfo *info, VpProvisionArgs *p,
                         VpDiskArgs *d);

/* One item of a key=value,... list. */
typedef struct {
    const VpSubOption *sub;
    char *value;                   /* NULL for a WORD */
} VpSubItem;

/* Splits TEXT ("key=value,key,...") by INFO's sub-options into a new array
 * of VpSubItem (freed with the array).  Refuses an empty item, an unknown
 * key (suggesting the nearest), a key given twice, a value missing or
 * given where none belongs, a switch that is neither on nor off; the
 * message names INFO->sub_noun.  VP_ERROR_INVALID. */
GPtrArray *vp_suboptions_parse(const VpOptionInfo *info, const char *text,
                               GError **error);

/* A SWITCH's value: on, yes or true, off, no or false, in any case. */
gboolean vp_switch_parse(const char *value, gboolean *on);

/* The sub-option of INFO called NAME, or NULL. */
const VpSubOption *vp_suboption_find(const VpOptionInfo *info,
                                     const char *name);

/* One --network value: network=NAME, bridge=BR, user or none, exactly
 * one of them first, then mac=MAC (a unicast address, such as
 * 52:54:00:12:34:56), model=MODEL (such as virtio or e1000e) and, with
 * network=, ip=ADDRESS (IPv4: a DHCP reservation) if wanted, never with
 * none.  FALSE when TEXT is none of these (the caller
 * words the error with the option's hint); *NIC gets a new NIC, NULL for
 * none. */
gboolean vp_nic_parse(const char *text, VpNic **nic);

/* The NICs of every --network value of TEXTS (NULL: none given, which is
 * one NIC of VP_NET_DEFAULT; "none" only alone, which is none).  FALSE
 * when a value is invalid or none is not alone; *BAD then names it.  A
 * new array of VpNic * otherwise. */
gboolean vp_nics_parse(const char *const *texts, GPtrArray **nics,
                       const char **bad);

/* --memory's value: a size, or a bare number of MiB (as virt-install).
 * FALSE when it is no size; the minimum is VP_MEMORY_MIN. */
gboolean vp_memory_parse(const char *text, guint64 *bytes);
#define VP_MEMORY_MIN (G_GUINT64_CONSTANT(16) << 20)

/* Levenshtein distance of A and B, LIMIT + 1 once it exceeds LIMIT. */
guint vp_edit_distance(const char *a, const char *b, guint limit);

/* Frees every text field of P and D that the table names and zeroes
 * them; either may be NULL. */
void vp_provision_args_clear(VpProvisionArgs *p);
void vp_disk_args_clear(VpDiskArgs *d);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpProvisionArgs, vp_provision_args_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpDiskArgs, vp_disk_args_clear)
