/* Private to the lab workflow: the state of one run, shared by its three
 * files.  lab.c runs it (the order of a run, the threads), lab-plan.c
 * decides on this thread alone what every guest needs, and lab-host.c
 * reads a host and does a host's work. */
#pragma once

#include <glib.h>

#include "lab.h"
#include "network-xml.h"
#include "virt.h"

typedef struct VpLabRun VpLabRun;

/* A lab network's copy on one host: what the plan found and decided. */
typedef struct {
    char *name;              /* LAB-KEY */
    const VpLabNetwork *net; /* NULL: a key the manifest no longer has */
    VpLabNetReport *report;  /* in the result */
    VpIpv4Net subnet;        /* the host's /24 (net != NULL) */
    const VpNetworkDef *def; /* the copy the host holds; NULL: none */
    gboolean ours;           /* DEF carries this lab's record of the key */
    gboolean drifted;        /* ours, made from other cidr, mode or domain */
    gboolean used;           /* a guest of the lab uses it after the run */
    gboolean remove;         /* the run removes the copy of DEF's UUID */
    char *xml;               /* the definition the run creates; NULL: none */
    char *uuid;              /* the copy's UUID once the run made it */
    /* Addresses of the /24 that no guest may be given: reservations and
     * leases of the host's copy and the planned guests' (as
     * GUINT_TO_POINTER) -> the name holding it, NULL for a lease. */
    GHashTable *taken;
} VpLabHostNet;

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
    /* What lab networks and fixed addresses need of the host, read when
     * the lab has either (NULL otherwise): */
    GPtrArray *net_defs;     /* VpNetworkDef * of every network */
    GHashTable *macs;        /* MAC of any domain's NIC -> the domain's name */
    GHashTable *net_users;   /* network name -> set of the domains using it */
    GHashTable *leases;      /* lab network name -> GPtrArray of VpNetLease * */
    GPtrArray *nets;         /* VpLabHostNet *: the lab's copies planned here */
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
    VpLabRecord *new_record; /* the record a create writes, until the plan
                              * has given it its NICs and made METADATA */
    char *base;              /* the base volume a local base file became */
    GError *prepare_error;   /* why the host could not prepare for it */
    gboolean removed;        /* the guest's old copy is gone already */
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

void vp_lab_net_report_free(gpointer data);

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

/* lab-netplan.c: the plan of the lab's networks and of its guests'
 * identity on them; pure, as the rest of the plan. */

/* Whether the run needs the hosts' networks: the lab has networks, or a
 * guest a fixed address. */
gboolean vp_lab_wants_networks(const VpLabRun *run);
/* Before the guests are planned: each reachable host's copies of the
 * lab's networks (H->nets), whether each is the lab's and as the
 * manifest says; copies of keys the manifest no longer has too. */
void vp_lab_find_networks(VpLabRun *run);
/* Whether plan P has a NIC on network NAME. */
gboolean vp_lab_plan_uses(const VpProvisionPlan *p, const char *name);
/* H's copy of lab network NAME, or NULL. */
VpLabHostNet *vp_lab_host_net(const VpLabHostState *h, const char *name);
/* The lab network of H, used by a NIC of REC, that changed since it was
 * made (a drifted copy), or NULL. */
const char *vp_lab_net_drifted(const VpLabHostState *h, const VpLabRecord *rec);
/* Per host with a guest of the lab, or a copy of one of its networks:
 * each network's action (RUN->result->networks), guests that cannot
 * have their network failed; then the MAC and address of every NIC of a
 * create on a lab network or with a fixed address, into its plan and its
 * record, whose METADATA it then writes. */
void vp_lab_plan_networks(VpLabRun *run);
void vp_lab_host_net_free(gpointer data);
/* Whether the run removes a copy on H. */
gboolean vp_lab_host_nets_remove(const VpLabHostState *h);
/* Whether the run removes, makes or keeps a copy on H (a kept copy is
 * started when it does not run). */
gboolean vp_lab_host_nets_busy(const VpLabHostState *h);

/* lab-netrun.c: a host's networks, for vp_lab_read_host and the run. */

/* Reads what vp_lab_plan_networks() needs of H: its networks, the MACs
 * of its domains and which use which network, the leases of the lab's
 * copies. */
gboolean vp_lab_read_networks(VpLabHostState *h, GError **error);
/* The planned removals of H's copies, then the creates; a guest whose
 * network could not be made fails with the reason. */
void vp_lab_run_networks(VpLabHostState *h);
/* Removes the entries NIC says guest NAME (of UUID) added, each proved
 * first: the domain DEFS has the NIC's MAC on that network, and the
 * network holds that very entry. */
gboolean vp_lab_remove_entries(VpLabHostState *h, const VpDomainDefs *defs,
                               const VpLabRecord *rec, GError **error);
/* After every host's guests: each host's copy of each lab network holds
 * a DNS entry for every guest of the lab with an address on it, and no
 * other (stale ones go only while every host could be read). */
void vp_lab_sync_dns(VpLabRun *run);

/* lab-host.c: work items for vp_lab_parallel(), each a VpLabHostState *. */

/* Connects to the host and reads its domains, records and identity. */
void vp_lab_read_host(gpointer data, gpointer unused);
/* The host's tasks: deletes, then pool and bases, then creates. */
void vp_lab_run_host(gpointer data, gpointer unused);
