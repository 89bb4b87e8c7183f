/* libvirt URIs that would run a program on this machine.
 *
 * libvirt's remote driver starts a local command for the "ext" transport
 * (qemu+ext://...) and takes that command from the URI's "command"
 * parameter.  A URI comes from a lab manifest, from -c/--connect or from
 * LIBVIRT_DEFAULT_URI; a manifest in particular may come from someone
 * else, and its URI must not become a way to run their program as the
 * user who applies it (often root).  So both are refused wherever a URI
 * enters the tool (design.md, "Labs"). */
#pragma once

#include <glib.h>

/* Fails with VP_ERROR_INVALID, in one line that names URI and says what to
 * do, when URI would run a local command: its transport (what follows the
 * first '+' of the scheme) is "ext" in any case, or its query has a
 * parameter whose name is "command" in any case once percent-decoded, as
 * libvirt decodes it.  Anything else passes: whether libvirt can use the
 * URI is libvirt's to say. */
gboolean vp_uri_check(const char *uri, GError **error);

/* TRUE when URI reaches a daemon on another machine, whose files and
 * home directory mean nothing here: it names a host, or its transport
 * (what follows the first '+' of the scheme) is anything but unix, such
 * as ssh, libssh, tcp or tls.  qemu:///session and
 * qemu+unix:///session?socket=... are local.  A URI GLib cannot parse
 * counts as local: libvirt would refuse it anyway. */
gboolean vp_uri_is_remote(const char *uri);

/* The URI that reaches, from its own host, the daemon URI reaches from
 * here: its driver and path alone ("qemu:///session" for
 * "qemu+ssh://u@h:22/session?keyfile=k").  Caller frees; NULL when URI
 * cannot be parsed. */
char *vp_uri_on_host(const char *uri);

/* A command line for a message that the user may paste into a shell: ssh
 * to the host of URI as libvirt's ssh transports log in (its user, port,
 * keyfile, known_hosts and no_verify parameters), running COMMAND (a
 * command line for the far side's shell, passed as one quoted word).
 * Only the words that need it are quoted.  NULL when URI is not reached
 * through ssh (ssh, libssh or libssh2 transport and a host).  Caller
 * frees. */
char *vp_uri_ssh_command(const char *uri, const char *command);

/* Whether opening URI may ask the user something on the terminal: ssh's
 * password and host key questions, libvirt's own credential prompts (SASL
 * over tcp or tls).  FALSE for a daemon of this machine (not
 * vp_uri_is_remote) and for the ssh transports told not to ask (a non-zero
 * no_tty parameter, as libvirt reads it); TRUE for NULL, libvirt's default
 * URI, which may name any host. */
gboolean vp_uri_may_prompt(const char *uri);
