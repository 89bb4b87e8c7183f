/* libfyaml glue shared by the YAML readers of the core (the cloud-init
 * seed's files, lab manifests): autoptr cleanups and a diagnostics sink
 * that keeps the first error, with its position, for one-line messages.
 * libfyaml otherwise prints its diagnostics on stderr, several lines each.
 *
 * And the writing of YAML whose scalars come from elsewhere (domain names,
 * lab records), where every value must read back as exactly that string.
 * Not through libfyaml's emitter: before 0.9.1 (Debian 12 has 0.7.12) its
 * event and document APIs drop the spaces at either end of a scalar, even
 * of a double-quoted one, and 0.7.12 writes a key of any length as an
 * implicit key, which YAML limits to 1024 characters. */
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

/* Appends VALUE (UTF-8; invalid bytes become U+FFFD) to OUT as one
 * double-quoted YAML scalar on one line, which YAML 1.1 loaders (PyYAML,
 * so Ansible) and YAML 1.2 loaders read back as exactly VALUE: never a
 * bool, number, null, tag, anchor or indicator.  '"', '\\', the C0 and C1
 * controls, DEL, U+2028, U+2029, U+FEFF, U+FFFE and U+FFFF are escaped;
 * every other character, spaces at either end too, is written as it is. */
void vp_yaml_append_quoted(GString *out, const char *value);

/* Appends to OUT the key KEY of a block mapping indented by INDENT spaces,
 * quoted as vp_yaml_append_quoted() quotes, and its ':'.  The value follows:
 * a scalar after a space, or a collection on the next lines, indented
 * deeper.  A key whose quoted form is longer than YAML's limit for an
 * implicit key is written as an explicit one ("? KEY", then ':' on a line
 * of its own). */
void vp_yaml_append_key(GString *out, guint indent, const char *key);

/* Whether TEXT (LEN bytes of UTF-8) nests flow collections ('[' and '{')
 * at most MAX_DEPTH deep, by a lexical scan made before libfyaml sees the
 * text.  libfyaml's scanner keeps every token of a flow collection queued
 * until it knows whether the collection is a mapping key, so a deep one
 * costs hundreds of bytes per bracket before the first event arrives (1
 * MiB of '[' ~ 370 MB), and its depth limits apply to the events after
 * that.  Brackets in comments and in quoted, plain and block scalars are
 * text and do not count; where the scan is unsure, it counts, so that it
 * can refuse a contrived file but never lets a deep one through.  On
 * FALSE, the first bracket beyond the limit is at byte *OFFSET, and at
 * *LINE and *COLUMN (1-based, the column in characters).  The text up to
 * and including it is cheap for libfyaml: a reader whose own depth check
 * counts more than flow collections can parse that prefix for a more
 * precise position. */
gboolean vp_yaml_check_flow_depth(const char *text, gsize len,
                                  guint max_depth, gsize *offset,
                                  guint *line, guint *column);

/* The 1-based position in TEXT (LEN bytes) of libfyaml's mark M; 0 when
 * M is NULL.  libfyaml marks an anchor and an alias after their '&' or
 * '*'; the position is that of the character the reader sees first. */
void vp_yaml_mark_position(const char *text, gsize len,
                           const struct fy_mark *m, guint *line,
                           guint *column);

/* An event parser of a YAML text for a reader that refuses nesting deeper
 * than some limit: set up by vp_yaml_reader_open(), cleared (parser, then
 * diagnostics) by vp_yaml_reader_clear(). */
typedef struct {
    VpFyParser *parser;
    VpFyDiag *diag;
    char *first;        /* libfyaml's first error, NULL until one */
    /* The text nests flow collections deeper than the limit: the parser
     * reads only the text up to the first bracket too deep, at DEEP_LINE
     * and DEEP_COLUMN (vp_yaml_check_flow_depth), so that the reader's own
     * depth check, which counts block levels too, can place the refusal,
     * and must refuse there itself when it did not. */
    gboolean deep;
    guint deep_line, deep_column;
} VpYamlReader;

/* Sets R up to parse the LEN bytes of TEXT (kept, not copied), with the
 * flow depth checked first against MAX_DEPTH.  Aborts on out-of-memory, as
 * GLib does. */
void vp_yaml_reader_open(VpYamlReader *r, const char *text, gsize len,
                         guint max_depth);
void vp_yaml_reader_clear(VpYamlReader *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpYamlReader, vp_yaml_reader_clear)
