/* Whether a lab may delete a volume that a guest's record names.
 *
 * A record (lab-record.h) is a claim, not a proof: anyone who can define a
 * domain on a host can write one naming any volume.  So a volume is
 * deleted only when what the host says at that moment proves it is the
 * guest's own:
 *
 *   - it still exists (a volume gone already is nothing to do);
 *   - it has a name this tool gives a volume of that guest (web-1.qcow2,
 *     web-1.img, web-1-cidata.iso for guest web-1);
 *   - it lies in the pool the guest was provisioned in;
 *   - it is a disk (or the seed cdrom) of that very domain, read by its
 *     UUID just before acting;
 *   - it is no disk of any other domain of the host;
 *   - it is the backing file of no volume of its pool (a base, shared by
 *     overlays that the domain XML of a stopped guest does not show).
 *
 * Pure: the caller gathers the facts from the host; this decides. */
#pragma once

#include <glib.h>

typedef enum {
    VP_LAB_PROOF_OWNED,    /* every test passed: it may be deleted */
    VP_LAB_PROOF_GONE,     /* it does not exist: nothing to delete */
    VP_LAB_PROOF_NAME,     /* not a name this tool gives the guest's volumes */
    VP_LAB_PROOF_POOL,     /* not in the pool of the guest */
    VP_LAB_PROOF_NOT_DISK, /* not a disk of the domain */
    VP_LAB_PROOF_SHARED,   /* a disk of another domain too */
    VP_LAB_PROOF_BACKING,  /* the backing file of another volume */
} VpLabProof;

/* What the host says, for one guest.  Disk keys are what
 * vp_lab_proof_add_disks() puts in: a file or block device path, or
 * "POOL/VOLUME" for a disk of type 'volume' (libvirt refuses '/' in pool
 * names, and a path starts with one, so the two never meet). */
typedef struct {
    const char *guest;        /* the domain's name, as read by its UUID */
    const char *uuid;         /* the domain's UUID */
    const char *pool;         /* the pool the guest was provisioned in */
    const char *const *names; /* NULL-terminated: the names this tool gives
                               * the guest's volumes */
    GHashTable *own;          /* disk key -> VpLabDiskUser: the domain's
                               * disks, read by its UUID just now */
    GHashTable *users;        /* disk key -> VpLabDiskUser: every domain of
                               * the host using it (the guest among them) */
    GHashTable *backing;      /* path -> "POOL/VOLUME" whose backing file it is */
} VpLabProofView;

/* A domain using a disk; a chain of them when several do. */
typedef struct VpLabDiskUser VpLabDiskUser;
struct VpLabDiskUser {
    char *uuid;
    char *name;
    VpLabDiskUser *next;
};

/* A table for VpLabProofView's OWN and USERS: keys and users owned. */
GHashTable *vp_lab_disk_users_new(void);

/* The verdict on volume NAME of POOL, whose path the pool reports as PATH
 * (NULL when the volume does not exist).  For SHARED and BACKING, *WHO
 * (may be NULL) borrows from VIEW the domain or volume that uses it. */
VpLabProof vp_lab_proof_check(const VpLabProofView *view, const char *pool,
                              const char *name, const char *path,
                              const char **who);

/* One phrase saying why volume NAME of POOL was refused with PROOF (not
 * OWNED or GONE), naming WHO where the verdict has one.  Caller frees. */
char *vp_lab_proof_reason(VpLabProof proof, const char *pool,
                          const char *name, const VpLabProofView *view,
                          const char *who);

/* Adds the disks of the definition XML of domain NAME of UUID to USERS
 * (from vp_lab_disk_users_new()); a domain counts once per disk however
 * many of its definitions (persistent, live) name it.  A definition that
 * does not parse fails with VP_ERROR_FAILED. */
gboolean vp_lab_proof_add_disks(GHashTable *users, const char *xml,
                                const char *uuid, const char *name,
                                GError **error);
