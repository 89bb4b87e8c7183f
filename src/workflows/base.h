/* Bases of overlays: the volume a guest's disk is a thin copy of (a cloud
 * image imported into a pool).  Resolving one means knowing its path on the
 * host, its format, its virtual size and its own backing chain, all from
 * headers this tool reads itself: a backing format is never guessed. */
#pragma once

#include <glib.h>

#include "domain-xml.h"
#include "run.h"
#include "virt.h"

typedef struct {
    char *pool;
    char *volume;
    char *path;            /* on the host */
    char *format;          /* "qcow2" or "raw", from the header */
    guint64 virtual_size;  /* bytes the guest sees */
    /* The chain an overlay on this base has below it, nearest first: the
     * base itself, then what the base's header names, and so on
     * (VpBackingLevel *, owned). */
    GPtrArray *chain;
} VpBaseInfo;

void vp_base_info_clear(VpBaseInfo *base);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpBaseInfo, vp_base_info_clear)

/* Resolves SPEC, "VOLUME" in DEFAULT_POOL or "POOL/VOLUME".  The base's
 * header (and each lower level's) is read through a download stream, so a
 * remote host works as a local one.  Fails with VP_ERROR_INVALID when the
 * base is missing (the message spells the way out as RUN's front end
 * does), is neither qcow2 nor raw, or names a backing file whose format it
 * does not record or which is not a volume of the host. */
gboolean vp_base_resolve(const VpRunEnv *run, VpVirt *virt,
                         const char *default_pool, const char *spec,
                         VpBaseInfo *base, GError **error);
