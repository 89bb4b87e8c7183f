/* The two workflows that edit an existing domain: attach (a new
 * preallocated volume as a disk) and convert (a disk's image copied into a
 * new preallocated qcow2 volume, the disk switched to it in one define).
 * Both validate first, then change, undoing everything on failure: the
 * domain definition is exactly what it was and no new volume remains. */
#pragma once

#include <glib.h>

#include "image-options.h"
#include "run.h"
#include "qcow2-layout.h"

typedef struct {
    VpRunEnv run;              /* connection, steps, progress, cancel */
    const char *domain;
    const char *pool;      /* attach: required; convert: default source's */
    const char *volume;    /* attach: name of the new volume, or NULL */
    const char *target;    /* attach: new target; convert: disk to convert */
    const char *bus;       /* attach: bus of the new disk */
    VpImageOptions image;  /* size (attach) and DISK options */
    gboolean live;         /* attach: hot-plug too */
    gboolean delete_source;/* convert */
    gboolean print_diff;   /* show the definition change, change nothing */
} VpDomainOpPlan;

typedef struct {
    char *uri;
    char *domain;
    char *target;
    char *old_path;        /* convert: the disk's image before */
    char *old_format;
    char *pool;
    char *volume;          /* the new volume */
    char *path;
    guint64 capacity;
    guint64 allocation;
    guint64 file_length;
    VpQcow2Layout layout;
    char *diff;            /* of the persistent definition */
    char *backup;          /* file holding the previous definition */
    gboolean changed;      /* FALSE for --print-diff */
    gboolean live;         /* attach: also plugged into the running guest */
    gboolean source_deleted;
} VpDomainOpResult;

void vp_domain_op_result_clear(VpDomainOpResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpDomainOpResult, vp_domain_op_result_clear)

gboolean vp_attach_run(VpDomainOpPlan *plan, VpDomainOpResult *result,
                       GError **error);
gboolean vp_convert_run(VpDomainOpPlan *plan, VpDomainOpResult *result,
                        GError **error);
