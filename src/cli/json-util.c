/* The JSON document of --json: one per run, on stdout, built with
 * json-glib. */
#include "json-util.h"

void
vp_cli_print_json(JsonNode *root)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, root);
    /* Pretty-printed: readable by a person, no harder for a program. */
    g_autofree char *text = json_generator_to_data(gen, NULL);
    g_print("%s\n", text);
    json_node_unref(root);
}

void
vp_json_add_int(JsonBuilder *b, const char *name, guint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, (gint64)value);
}

void
vp_json_add_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

void
vp_json_add_bool(JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, value);
}
