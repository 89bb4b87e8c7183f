/* The provision workflow: one pool volume written by the project's own
 * emitter through a libvirt upload stream, and a domain that installs onto
 * it.  The whole plan is validated before the first change; every change
 * registers its undo, so a failure or an interrupt leaves the host as it
 * was. */
#pragma once

#include <glib.h>

#include "domain-xml.h"
#include "image-options.h"
#include "run.h"
#include "qcow2-layout.h"
#include "seed.h"
#include "virt.h"

typedef struct {
    VpRunEnv run;              /* connection, steps, progress, cancel */
    const char *pool;
    const char *name;     /* domain name; the volume is NAME.qcow2/.img */
    VpImageOptions image; /* size and DISK options */
    /* --base: the disk is an overlay on this volume ("VOL" of POOL, or
     * "POOL/VOL"); image.size 0 then means the base's size. */
    const char *base;
    /* --cloud-init: a NoCloud seed volume NAME-cidata.iso; NULL: none. */
    const VpSeedOptions *cloud_init;
    /* --wait: start, then wait up to WAIT_SECONDS for the guest agent to
     * report an address. */
    gboolean wait;
    guint wait_seconds;
    VpDomainSpec domain;  /* what the user chose; the rest is filled in */
    gboolean define;      /* FALSE with --no-define: the volume alone */
    gboolean start;
    gboolean autostart;
    gboolean print_xml;   /* print the domain XML, create nothing */
    gboolean dry_run;     /* validate and report, create nothing */
    /* The connection to use (borrowed, may serve other threads at the same
     * time); NULL: connect to run.uri for this run alone. */
    VpVirt *virt;
    /* A lab's ownership record (lab-record.h, as XML) for the domain's
     * <metadata>.  With one, the domain is defined first, holding
     * METADATA_FIRST (the record saying "creating"), and only then are the
     * volumes it names created; the final definition holds METADATA.
     * Whatever happens in between, nothing exists that no record owns. */
    const char *metadata_first;
    const char *metadata;
} VpProvisionPlan;

typedef struct {
    char *uri;
    char *pool;
    gboolean pool_created;
    char *volume;
    char *volume_path;
    char *volume_format;  /* as libvirt reports it */
    guint64 capacity;     /* as libvirt reports it, bytes */
    guint64 allocation;   /* bytes */
    guint64 file_length;  /* bytes */
    VpQcow2Layout layout;
    char *domain;
    char *domain_xml;
    char *uuid;
    gboolean defined;
    gboolean started;
    gboolean autostart;
    gboolean created;     /* FALSE for --dry-run and --print-xml */
    char *base;           /* POOL/VOL of the base, NULL without --base */
    char *base_path;      /* on the host; plan->image points here */
    char *base_format;
    char *seed_volume;    /* NULL without --cloud-init */
    char *seed_path;
    guint64 seed_size;    /* bytes */
    GPtrArray *addresses; /* VpAddress *, with --wait */
    /* --wait did not see an address in time: what was last seen.  The guest
     * was created and stays; the CLI exits 1. */
    char *wait_error;
} VpProvisionResult;

void vp_provision_result_clear(VpProvisionResult *r);

/* The names provision gives the volumes of guest NAME: its disk
 * (NAME.qcow2, NAME.img for raw) and its cloud-init seed
 * (NAME-cidata.iso).  Caller frees. */
char *vp_provision_volume_name(const char *name, VpImageFormat format);
char *vp_provision_seed_name(const char *name);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpProvisionResult, vp_provision_result_clear)

/* Creates the pool "default" of VIRT's host as a directory pool where
 * libvirt would put it, as provision does for a run that needs it, unless
 * it exists; *CREATED says whether it did.  For a lab, whose guests on one
 * host would otherwise race to create it. */
gboolean vp_provision_default_pool(const VpRunEnv *run, VpVirt *virt,
                                   gboolean *created, GError **error);

/* The checks of PLAN that need no host: the name, the size and the image
 * options (an overlay checked as one, whatever its base), into LAYOUT.
 * vp_provision_run makes them first; a lab makes them for every guest
 * before it contacts any host, so PLAN->run need only spell options then.
 * Fails with VP_ERROR_INVALID or VP_OPTION_ERROR. */
gboolean vp_provision_check(const VpProvisionPlan *plan, VpQcow2Layout *layout,
                            GError **error);

/* Carries out PLAN.  On failure everything this run created is removed
 * again; the error says what failed (and, if an undo failed too, what was
 * left behind). */
gboolean vp_provision_run(VpProvisionPlan *plan, VpProvisionResult *result,
                          GError **error);
