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
