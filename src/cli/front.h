/* The front program's way of running virt-provision-libvirt at a terminal.
 *
 * A Ctrl-C at a terminal signals its whole foreground process group, and
 * the ssh processes libvirt starts for qemu+ssh:// URIs are in it: they
 * died with the SIGINT, under the guests that were to be rolled back over
 * them.  So at a terminal the front forks the libvirt program into a
 * process group of its own and stays in the foreground itself: the ssh
 * children are then in the libvirt program's group, which Ctrl-C does not
 * reach, and the front hands each signal to the libvirt program alone.
 * Job control stays whole: Ctrl-Z stops the libvirt program's group and
 * then the front, so the shell sees its job stopped, and fg continues
 * both.  The libvirt program takes the terminal for as long as it opens a
 * connection that may ask for a password (terminal.h) and gives it back.
 *
 * Everywhere else (no controlling terminal, not in its foreground,
 * standard error not that terminal, as when a script or test runs it and
 * reads its output) the front executes the libvirt program in its own
 * place as it always did: whoever started it keeps signalling the process
 * that does the work, SIGSTOP included, which no process can hand on. */
#pragma once

/* The environment variable through which the front tells the libvirt
 * program its own process group, the one to hand the terminal back to. */
#define VP_FRONT_PGRP_ENV "VIRT_PROVISION_FRONT_PGRP"

/* Runs PROGRAM with ARGV (execv's) as described above and returns its exit
 * status; a child killed by a signal kills the front with the same signal
 * (a core dump aside, which leaves 128 + the signal).  Should the child
 * fail to execute PROGRAM, it calls EXEC_FAILED with execv's errno (to say
 * so on stderr) and exits 1.  Returns -1 at once, having changed nothing,
 * when this process is not at a terminal as described, or cannot fork:
 * the caller then executes PROGRAM itself. */
int vp_front_run(const char *program, char **argv,
                 void (*exec_failed)(const char *program, int err));
