/* The lab workflows: apply, status and destroy of one manifest over many
 * libvirt hosts at once (design.md, "Labs").
 *
 * The hosts are the only state.  Every guest a lab creates carries its
 * ownership record (lab-record.h) in its domain's <metadata>; a run reads
 * the records of every reachable host, compares them with the manifest and
 * acts on the difference.  Nothing that lacks this lab's record is ever
 * changed: a domain of a lab guest's name without it is a conflict.
 *
 * One connection per host; up to JOBS guests in flight per host, each its
 * own provision transaction (all or nothing).  A host that cannot be
 * reached fails its own guests only. */
#pragma once

#include <glib.h>

#include "lab-record.h"
#include "manifest.h"
#include "provision.h"
#include "run.h"

typedef enum {
    VP_LAB_CREATE,   /* missing: created (planned with --dry-run) */
    VP_LAB_KEEP,     /* present and as the manifest says */
    VP_LAB_REPLACE,  /* present but changed: removed and created again */
    VP_LAB_DELETE,   /* owned but not in the manifest (--prune, destroy) */
    VP_LAB_DRIFT,    /* changed or unlisted, and not allowed to act */
    VP_LAB_CONFLICT, /* the name is taken by a domain the lab does not own */
    VP_LAB_FAILED,   /* the action was tried and failed, or never could be */
} VpLabAction;

/* "create", "keep", ... as in the --json document. */
const char *vp_lab_action_to_string(VpLabAction action);

typedef enum {
    VP_LAB_APPLY,
    VP_LAB_STATUS,
    VP_LAB_DESTROY,
} VpLabCommand;

typedef struct {
    char *name;
    char *uri;
    gboolean reachable;
    char *error;          /* why not, NULL when reachable */
} VpLabHostReport;

typedef struct {
    char *name;
    char *entry;          /* its manifest entry, NULL when unknown */
    char *host;           /* NULL when it could not be placed */
    VpLabAction action;
    char *error;          /* NULL unless failed, drift or conflict */
    char *note;           /* what else the user should know, such as
                           * volumes a removal found gone already; NULL */
    /* The guest as it is on the host after the run, when it exists. */
    gboolean exists;
    char *uuid;
    gboolean active;
    GPtrArray *volumes;   /* VpLabVolume *, as the record names them */
    /* What a create or replace made; a zeroed result otherwise. */
    VpProvisionResult result;
    gboolean created;     /* RESULT holds a guest made by this run */
    GPtrArray *addresses; /* VpAddress *, NULL when not asked or unknown */
    /* Its identity on networks as its record says, or as this run made
     * it (VpLabNic *): MACs and reserved addresses; NULL: none. */
    GPtrArray *nics;
} VpLabGuestReport;

/* A lab network's copy on one host (design.md, "Lab networks, guest
 * identity and readiness"): create (missing, planned), keep (the lab's
 * record, as the manifest says), replace (changed, made again with
 * --replace), delete (no guest of the lab uses it: destroy, --prune),
 * drift (changed, or unused without --prune), conflict (the name is not
 * the lab's, or the subnet overlaps another network of the host), failed. */
typedef struct {
    char *name;           /* LAB-KEY */
    char *host;
    VpLabAction action;
    char *subnet;         /* "10.88.1.0/24"; NULL when not known */
    char *error;          /* NULL unless failed, drift or conflict */
} VpLabNetReport;

/* Called when GUEST's outcome is known, one call at a time (never
 * concurrently), from whichever thread did the work.  TOTAL is the number
 * of guests the run reports on (the manifest's and the unlisted ones). */
typedef void (*VpLabReportFunc)(const VpLabGuestReport *guest, guint total,
                                gpointer data);

typedef struct {
    VpRunEnv run;          /* steps and cancel; uri and progress unused */
    const VpLab *lab;
    /* What the command line made of each guest's options, one per
     * LAB->guests and in that order (borrowed).  The workflow sets each
     * plan's connection and records; an apply runs each at most once. */
    GPtrArray *plans;
    VpLabCommand command;
    gboolean dry_run;      /* apply: plan and report, change nothing */
    gboolean replace;      /* apply: replace changed guests */
    gboolean prune;        /* apply: delete owned guests not in the manifest */
    guint jobs;            /* guests in flight per host, at least 1 */
    gboolean addresses;    /* status: ask running guests' agents */
    VpLabReportFunc report;
    gpointer report_data;
} VpLabPlan;

typedef struct {
    char *lab;
    GPtrArray *hosts;      /* VpLabHostReport *, in manifest order */
    GPtrArray *guests;     /* VpLabGuestReport *: the manifest's in its
                            * order, then owned guests it does not list */
    GPtrArray *networks;   /* VpLabNetReport *: host by host in manifest
                            * order, each in the manifest's network order,
                            * then copies of keys it no longer has */
    gboolean interrupted;  /* CANCEL fired: guests not started are failed */
} VpLabResult;

void vp_lab_result_clear(VpLabResult *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpLabResult, vp_lab_result_clear)

/* Runs PLAN over every host of its lab, filling RESULT with one report per
 * host and per guest.  Fails (VP_ERROR_INVALID) only for what is wrong
 * before anything is changed: a cloud-init or base file that cannot be
 * read (before any host is contacted), or two hosts of the manifest that
 * turn out to be one daemon (after reading them); everything after is
 * reported per host and per guest.  Use vp_lab_result_ok() for the
 * outcome. */
gboolean vp_lab_run(const VpLabPlan *plan, VpLabResult *result,
                    GError **error);

/* Whether every host was reachable and every guest ended as the command
 * wanted (for status: the lab is as the manifest says), and the run was
 * not interrupted.  *GUESTS counts the guests that did not (failed,
 * conflicting, drifted; for status every one not kept) and lab network
 * copies that did not (counted with them), *HOSTS the hosts not
 * reached. */
gboolean vp_lab_result_ok(const VpLabPlan *plan, const VpLabResult *result,
                          guint *guests, guint *hosts);
