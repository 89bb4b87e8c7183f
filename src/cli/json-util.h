/* --json output: one document on stdout and nothing else there. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

/* Prints ROOT as the single JSON document on stdout.  Takes ownership. */
void vp_cli_print_json(JsonNode *root);

/* Members of the object B is building. */
void vp_json_add_int(JsonBuilder *b, const char *name, guint64 value);
/* A NULL VALUE is written as null (json-glib's own rule). */
void vp_json_add_string(JsonBuilder *b, const char *name, const char *value);
void vp_json_add_bool(JsonBuilder *b, const char *name, gboolean value);
