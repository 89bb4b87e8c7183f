/* libfyaml glue shared by the YAML readers of the core (the cloud-init
 * seed's files, lab manifests): autoptr cleanups and a diagnostics sink
 * that keeps the first error, with its position, for one-line messages.
 * libfyaml otherwise prints its diagnostics on stderr, several lines each. */
#pragma once

#include <glib.h>
#include <libfyaml.h>

typedef struct fy_document VpFyDocument;
typedef struct fy_parser VpFyParser;
typedef struct fy_diag VpFyDiag;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpFyDocument, fy_document_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpFyParser, fy_parser_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpFyDiag, fy_diag_unref)

/* A diagnostics object that prints nothing and keeps the text of the
 * first error into *FIRST (NULL until one comes; the caller frees it).
 * Aborts on out-of-memory, as GLib does. */
VpFyDiag *vp_yaml_diag_new(char **first);

/* Splits a kept diagnostic "INPUT:LINE:COLUMN: error: TEXT" in place:
 * returns TEXT, and the position in *LINE and *COLUMN (0 when the
 * diagnostic has none). */
const char *vp_yaml_diag_split(char *diag, guint *line, guint *column);

/* The 1-based position in TEXT (LEN bytes) of libfyaml's mark M; 0 when
 * M is NULL.  libfyaml marks an anchor and an alias after their '&' or
 * '*'; the position is that of the character the reader sees first. */
void vp_yaml_mark_position(const char *text, gsize len,
                           const struct fy_mark *m, guint *line,
                           guint *column);
