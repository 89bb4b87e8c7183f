/* Pieces shared by the workflows (provision, attach, convert): progress
 * lines for --verbose, the undo steps, and writing a pool volume with the
 * project's own emitter through an upload stream. */
#pragma once

#include <glib.h>

#include "image-options.h"
#include "progress.h"
#include "qcow2-layout.h"
#include "run.h"
#include "source.h"
#include "transaction.h"
#include "virt.h"

/* How long an undo waits for a daemon that went away to come back. */
#define VP_RECONNECT_MS 15000

/* Hands the step FORMAT describes to RUN's front end (RUN->step), which
 * says it to the user; nothing when RUN has no step callback. */
void vp_workflow_step(const VpRunEnv *run, const char *format, ...)
    G_GNUC_PRINTF(2, 3);

/* Connects to RUN->uri (read-only when READONLY), telling RUN's front end,
 * as steps, while the daemon keeps a call waiting (vp_virt_connect): RUN
 * must outlive the connection. */
VpVirt *vp_workflow_connect(const VpRunEnv *run, gboolean readonly,
                            GError **error);

/* What an undo step removes or restores, and which of the names it uses. */
typedef enum {
    VP_UNDO_VOLUME,   /* delete volume NAME of POOL */
    VP_UNDO_POOL,     /* stop and undefine POOL */
    VP_UNDO_UNDEFINE, /* undefine domain NAME */
    VP_UNDO_DESTROY,  /* stop domain NAME */
    VP_UNDO_REDEFINE, /* define XML again: the definition before */
    VP_UNDO_DETACH,   /* unplug device XML from running domain NAME */
    VP_UNDO_NETWORK_DHCP, /* remove DHCP reservation XML of network NAME */
    VP_UNDO_NETWORK_DNS,  /* remove DNS host XML of network NAME */
} VpUndoKind;

/* Registers in T the undo KIND for the step WHAT (a phrase for messages).
 * The names are copied; VIRT is borrowed and must outlive T.  The undo
 * reconnects first when the daemon went away. */
void vp_workflow_undo(VpTransaction *t, const char *what, VpUndoKind kind,
                      VpVirt *virt, const char *pool, const char *name,
                      const char *xml);

/* ERROR (the failure that started the undo) gains what the undo could not
 * remove, UNDO_ERROR, in one translatable sentence: the user must learn
 * both, the first reason first. */
void vp_workflow_add_undo_error(GError **error, const GError *undo_error);

/* Fails with VP_ERROR_EXISTS, naming the volume and both ways out, when
 * POOL already has a volume NAME: nothing of another run is ever replaced.
 * Options in the messages here are spelled as RUN's front end does. */
gboolean vp_workflow_volume_free(const VpRunEnv *run, VpVirt *virt,
                                 const char *pool, const char *name,
                                 GError **error);

/* Creates the raw volume NAME in POOL holding BYTES (a seed ISO), through
 * an upload stream, registering its removal in T; *PATH is its path on the
 * host (caller frees).  Says its step through RUN. */
gboolean vp_workflow_upload_bytes(const VpRunEnv *run, VpVirt *virt,
                                  const char *pool, const char *name,
                                  GBytes *bytes, VpTransaction *t,
                                  char **path, GError **error);

/* Whether pool POOL of TYPE holds block devices (*BLOCK) or files; fails
 * for pool types that cannot take FORMAT through a stream. */
gboolean vp_workflow_pool_kind(const VpRunEnv *run, const char *pool,
                               const char *type, VpImageFormat format,
                               gboolean *block, GError **error);

/* Looks up POOL, which must exist and be active, into INFO, and says
 * whether it holds block devices (see vp_workflow_pool_kind). */
gboolean vp_workflow_active_pool(const VpRunEnv *run, VpVirt *virt,
                                 const char *pool, VpImageFormat format,
                                 VpPoolInfo *info, gboolean *block,
                                 GError **error);

/* Where a missing pool POOL ("default") of VIRT's host is created, as
 * virt-install does: /var/lib/libvirt/images for a system daemon, the
 * client's $XDG_DATA_HOME/libvirt/images for a session daemon on this
 * machine.  A session daemon on another machine (vp_uri_is_remote) keeps
 * its images in its user's home there, which nothing here reports (libvirt
 * has no call for it): that fails with VP_ERROR_FAILED, naming the command
 * that creates the pool on that host (through ssh when the URI uses it).
 * Caller frees. */
char *vp_workflow_default_pool_path(VpVirt *virt, const char *pool,
                                    GError **error);

/* Creates POOL as a directory pool at PATH (vp_virt_pool_create_dir),
 * saying the step through RUN and registering its removal in T. */
gboolean vp_workflow_create_pool(const VpRunEnv *run, VpVirt *virt,
                                 const char *pool, const char *path,
                                 VpTransaction *t, GError **error);

/* Fails with VP_ERROR_FAILED, naming POOL, the sizes and the way out, when
 * LAYOUT reserves its whole file (falloc, full) in a file pool (not BLOCK)
 * whose free space INFO says is smaller: better refused before anything is
 * created than after an upload that fills the pool's file system. */
gboolean vp_workflow_check_space(const VpRunEnv *run, const char *pool,
                                 const VpPoolInfo *info,
                                 const VpQcow2Layout *layout, gboolean block,
                                 GError **error);

/* Adjusts OPTS for a block device, which may hold stale data: preallocated
 * clusters must read as zeros whatever is there (v3 zero flag; v2 has none,
 * so zeros are written). */
void vp_workflow_block_image(VpImageOptions *opts);

/* Creates volume NAME in POOL and fills it with LAYOUT's image (the data
 * area from SRC when not NULL), registering the volume's removal in T,
 * saying its steps, reporting progress and polling the cancel through RUN.
 * Then checks that libvirt reports the format and capacity asked for, and
 * fills INFO from what it reports. */
gboolean vp_workflow_write_volume(const VpRunEnv *run, VpVirt *virt,
                                  const char *pool, const char *name,
                                  const VpQcow2Layout *layout, gboolean block,
                                  VpSource *src, VpTransaction *t,
                                  VpVolumeInfo *info, GError **error);

/* What libvirt must report about a volume once its upload is done. */
typedef struct {
    VpImageFormat format;
    guint64 capacity; /* virtual size, bytes */
    guint64 length;   /* the file the upload makes, bytes */
} VpVolumeExpect;

/* Puts the whole image into SINK and commits it, polling CANCEL (may be
 * NULL); on failure the sink is left uncommitted. */
typedef gboolean (*VpVolumeFill)(VpSink *sink, gpointer data,
                                 const VpCancel *cancel, GError **error);

/* vp_workflow_write_volume for any content: FILL (with FILL_DATA) writes
 * it, and libvirt must then report it as EXPECT says (a block volume is
 * created EXPECT->length bytes long, and only its size is known). */
gboolean vp_workflow_upload_volume(const VpRunEnv *run, VpVirt *virt,
                                   const char *pool, const char *name,
                                   const VpVolumeExpect *expect,
                                   gboolean block, VpVolumeFill fill,
                                   gpointer fill_data, VpTransaction *t,
                                   VpVolumeInfo *info, GError **error);

/* A running guest's addresses, as design.md orders their sources: RESERVED
 * (VpAddress *, copied: the reservations the caller knows of; NULL: none)
 * and its DHCP leases first, then, only when those give none, its guest
 * agent, so that a guest without one (Ubuntu's cloud images ship none)
 * has its address too.  Fails as vp_virt_domain_addresses() when all
 * three give nothing and the agent does not answer. */
GPtrArray *vp_workflow_guest_addresses(VpVirt *virt, const char *name,
                                       const GPtrArray *reserved, GError **error);
