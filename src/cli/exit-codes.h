/* Exit codes, and the error that decides one.  The only layer that picks an
 * exit status or prints an error is this one (style rule 4). */
#pragma once

#include <glib.h>

/* Exit codes of the design: 0 success, 1 the operation failed, 2 bad usage
 * or input.  `check` adds qemu-img check's 2 (corrupt) and 3 (leaks). */
enum {
    VP_EXIT_OK = 0,
    VP_EXIT_FAILED = 1,
    VP_EXIT_USAGE = 2,
    VP_EXIT_CHECK_CORRUPT = 2,
    VP_EXIT_CHECK_LEAKS = 3,
    VP_EXIT_CHECK_UNSUPPORTED = 63, /* qemu-img's "format has no checks" */
};

/* The exit code for ERROR: VP_EXIT_USAGE for G_OPTION_ERROR,
 * VP_OPTION_ERROR and VP_ERROR_INVALID, else VP_EXIT_FAILED. */
int vp_cli_exit_code(const GError *error);

/* Prints ERROR as one line on stderr and returns its exit code.  Takes
 * ownership of ERROR.  An interrupted run gets 1 here; main() then dies of
 * the signal (vp_interrupt_exit). */
int vp_cli_fail(GError *error);
