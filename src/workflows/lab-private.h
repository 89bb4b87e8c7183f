/* Private to the lab workflow: the state of one run, shared by its three
 * files.  lab.c runs it (the order of a run, the threads), lab-plan.c
 * decides on this thread alone what every guest needs, and lab-host.c
 * reads a host and does a host's work. */
#pragma once

#include <glib.h>

#include "lab.h"
#include "virt.h"

typedef struct VpLabRun VpLabRun;

typedef struct {
    VpLabRun *run;
    const VpLabHost *host;
    VpLabHostReport *report;
    VpVirt *virt;            /* NULL when unreachable */
    GPtrArray *domains;      /* VpDomainEntry * */
    GHashTable *by_name;     /* name -> VpDomainEntry * (borrowed) */
    GHashTable *records;     /* name -> VpLabRecord *: this lab's guests */
    guint count;             /* this lab's guests here, planned ones too */
    GPtrArray *tasks;        /* VpLabTask *, in the order they run */
    char *hostname;          /* as its daemon reports it */
    GPtrArray *ids;          /* UUIDs of its pools and networks */
    /* Guest name -> what of its complete record's volumes is gone. */
    GHashTable *missing;
    /* What removals and bases are proved against, read when the first of
     * them needs it (under VIEW_LOCK): which domains use which disk, and
     * the backing files of the pools in BACKING_POOLS. */
    GMutex view_lock;
    GHashTable *users;       /* disk key -> VpLabDiskUser * */
    GHashTable *backing;     /* path -> "POOL/VOLUME" */
    GHashTable *backing_pools;
} VpLabHostState;

/* One guest's work on one host. */
typedef struct {
    VpLabHostState *host;    /* where it runs (a create's host) */
    VpLabGuestReport *report;
    /* What to remove first: the guest on OLD_HOST as RECORD names it
     * (delete and replace); NULL for a create. */
    VpLabHostState *old_host;
    const VpLabRecord *record;
    /* What to create (create and replace); NULL for a delete. */
    VpProvisionPlan *plan;
    char *metadata_first;
    char *metadata;
    GPtrArray *volumes;      /* VpLabVolume * of the records a create writes */
    char *base;              /* the base volume a local base file became */
    GError *prepare_error;   /* why the host could not prepare for it */
} VpLabTask;

struct VpLabRun {
    const VpLabPlan *plan;
    VpLabResult *result;
    GPtrArray *hosts;        /* VpLabHostState *, in manifest order */
    GPtrArray *tasks;        /* VpLabTask *, owning */
    GHashTable *listed;      /* guest name -> VpLabGuest * of the manifest */
    /* Listed guest name -> the VpLabHostState * whose copy the plan keeps,
     * for each guest some reachable host holds (vp_lab_plan_all). */
    GHashTable *owners;
    GHashTable *busy;        /* the VpLabGuestReport * that have a task */
    GHashTable *digests;     /* local base path -> its content digest */
    GMutex report_lock;
};

/* lab.c */

/* RUN, set up for PLAN with a state per host of its lab (none read yet:
 * all unreachable) and R's arrays made.  Cleared with vp_lab_run_clear(),
 * which leaves R alone. */
void vp_lab_run_init(VpLabRun *run, const VpLabPlan *plan, VpLabResult *r);
void vp_lab_run_clear(VpLabRun *run);

/* Whether PLAN changes the hosts: apply without --dry-run, and destroy.
 * A plan that does not reports every guest as soon as it is planned. */
gboolean vp_lab_plan_acts(const VpLabPlan *plan);

/* Hands G to the plan's report callback, one call at a time. */
void vp_lab_report(VpLabRun *run, const VpLabGuestReport *g);

/* Runs FN on each of ITEMS, on up to WORKERS threads at once, fewer when
 * the system gives no more; the calling thread does the work itself when
 * it gets none.  Returns when every item is done. */
typedef void (*VpLabWorkFunc)(gpointer item, gpointer data);
void vp_lab_parallel(GPtrArray *items, guint workers, VpLabWorkFunc fn,
                     gpointer data);

/* lab-plan.c: what the plan needs of the hosts as read, nothing else. */

/* H as read: reachable, with DOMAINS (VpDomainEntry *, taken), their
 * records of this lab parsed; a record that does not parse or is another
 * lab's makes its domain foreign.  The pure half of reading a host. */
void vp_lab_host_take(VpLabHostState *h, GPtrArray *domains);
/* Two hosts of the manifest that are one daemon: VP_ERROR_INVALID. */
gboolean vp_lab_check_identity(VpLabRun *run, GError **error);
/* Every guest's action, tasks and records, in manifest order (HASHES: the
 * options hash of each), then the lab's guests the manifest does not list
 * and the second copies of those it does; guests with nothing to do (all,
 * unless ACT) are reported at once. */
void vp_lab_plan_all(VpLabRun *run, GStrv hashes, gboolean act);
VpLabHostState *vp_lab_host_by_name(VpLabRun *run, const char *name);
/* For a BASE that names a local file (vp_lab_base_is_file): its absolute
 * path, its digest (NULL unless taken), the volume its content makes of it. */
char *vp_lab_base_path(const VpLabRun *run, const char *base);
const char *vp_lab_base_digest(const VpLabRun *run, const char *base);
char *vp_lab_base_volume(const VpLabRun *run, const char *base,
                         const char *digest);

/* lab-host.c: work items for vp_lab_parallel(), each a VpLabHostState *. */

/* Connects to the host and reads its domains, records and identity. */
void vp_lab_read_host(gpointer data, gpointer unused);
/* The host's tasks: deletes, then pool and bases, then creates. */
void vp_lab_run_host(gpointer data, gpointer unused);
