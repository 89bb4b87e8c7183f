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
