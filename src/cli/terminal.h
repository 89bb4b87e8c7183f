/* The libvirt program's side of front.h: run by the front in a process
 * group of its own, out of Ctrl-C's reach, it takes the terminal for as
 * long as it opens a connection that may ask the user something (an ssh
 * password or host key question, libvirt's credential prompts: they need
 * the terminal's foreground, or the kernel stops them) and then gives it
 * back to the front, before any guest is in flight over it.  A Ctrl-C
 * while a connection opens reaches that connection's ssh too, when there
 * is nothing yet to roll back; a reconnect that an undo makes takes the
 * terminal the same way, for as long as it lasts. */
#pragma once

/* When the front started this program (front.h's variable, which it
 * removes from the environment, so that no child of this program sees
 * it), hooks every later opening of a libvirt connection as above.
 * Otherwise nothing changes.  Call it first, before any connection. */
void vp_terminal_init(void);
