/* virt-provision: error domain shared by every layer.
 *
 * Functions that can fail take a GError ** last and set an error of this
 * domain (or a GIO/GLib one for system calls).  Only the CLI turns an error
 * into a message and an exit code: VP_ERROR_INVALID means bad usage or input
 * (exit 2), everything else means the operation failed (exit 1). */
#pragma once

#include <glib.h>

#define VP_ERROR (vp_error_quark())

typedef enum {
    VP_ERROR_INVALID,     /* bad usage or input; nothing was touched */
    VP_ERROR_FAILED,      /* the operation failed */
    VP_ERROR_EXISTS,      /* the target exists and may not be replaced */
    VP_ERROR_CORRUPT,     /* an image is damaged or not what it claims */
    VP_ERROR_UNSUPPORTED, /* valid input this tool does not handle */
    VP_ERROR_CANCELLED,   /* interrupted by a signal */
} VpErrorCode;

GQuark vp_error_quark(void);

/* Invalid image options, by the option concerned.  The core does not know
 * how a front end spells an option (--cluster-size on the command line, a
 * key in a lab manifest), so its messages speak of the thing ("cluster
 * size", "compat 1.1") and the front end names its own spelling from the
 * code.  Always bad input: exit 2, nothing touched.
 *
 * The same codes name the options a workflow's message tells the user to
 * give, drop or change ("choose another --name"): the workflow asks the
 * front end for its spelling (run.h, vp_run_option), so that no layer
 * below the command line writes a flag.  The codes after BACKING_FORMAT
 * are of that kind only. */
#define VP_OPTION_ERROR (vp_option_error_quark())

typedef enum {
    VP_OPTION_ERROR_SIZE,
    VP_OPTION_ERROR_FORMAT,
    VP_OPTION_ERROR_PREALLOCATION,
    VP_OPTION_ERROR_CLUSTER_SIZE,
    VP_OPTION_ERROR_COMPAT,
    VP_OPTION_ERROR_REFCOUNT_BITS,
    VP_OPTION_ERROR_EXTENDED_L2,
    VP_OPTION_ERROR_BACKING,
    VP_OPTION_ERROR_BACKING_FORMAT,
    VP_OPTION_ERROR_NAME,          /* of a guest, or of a new volume */
    VP_OPTION_ERROR_POOL,
    VP_OPTION_ERROR_TARGET,        /* attach: the new disk's target */
    VP_OPTION_ERROR_DISK,          /* convert: the target of the disk */
    VP_OPTION_ERROR_LIVE,          /* attach: hot-plug too */
    VP_OPTION_ERROR_SOURCE_FORMAT, /* import, convert: the file's format */
    VP_OPTION_ERROR_PREALLOCATE,   /* import: write a preallocated qcow2 */
    VP_OPTION_ERROR_REPLACE,       /* lab apply: replace changed guests */
    VP_OPTION_ERROR_PRUNE,         /* lab apply: delete unlisted guests */
} VpOptionErrorCode;

GQuark vp_option_error_quark(void);
