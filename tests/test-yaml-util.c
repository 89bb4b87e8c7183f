/* The YAML writer of yaml-util.h: a table of values and the exact text
 * they are written as, each read back by libfyaml's parser as the same
 * string (YAML 1.2; tests/lab_inventory.py reads them with PyYAML, 1.1),
 * and the explicit form of a key too long to be implicit. */
#include <string.h>

#include <glib.h>

#include "yaml-util.h"

static const struct {
    const char *value;
    const char *quoted;
} quote_table[] = {
    /* what YAML 1.1 reads as bool, int, float or null when plain */
    { "yes", "\"yes\"" },
    { "010", "\"010\"" },
    { "0x10", "\"0x10\"" },
    { "1e3", "\"1e3\"" },
    { "null", "\"null\"" },
    { "~", "\"~\"" },
    { "", "\"\"" },
    /* indicators, tags, anchors, aliases, comments, directives */
    { "- x", "\"- x\"" },
    { "a: b", "\"a: b\"" },
    { "#c", "\"#c\"" },
    { "!!python/object", "\"!!python/object\"" },
    { "&a", "\"&a\"" },
    { "*a", "\"*a\"" },
    { "%TAG", "\"%TAG\"" },
    { "---", "\"---\"" },
    /* spaces at either end are kept: libfyaml's emitter drops them */
    { " sp ", "\" sp \"" },
    { " ", "\" \"" },
    /* escaped: quotes, backslash, controls, line breaks of YAML 1.1, BOM */
    { "q\"\\", "\"q\\\"\\\\\"" },
    { "a\tb\nc\rd", "\"a\\tb\\nc\\rd\"" },
    { "\x01\x1b[0m\x7f", "\"\\x01\\x1B[0m\\x7F\"" },
    { "nel\xc2\x85x", "\"nel\\x85x\"" },
    { "a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"" },
    { "\xef\xbb\xbf" "bom\xef\xbf\xbe", "\"\\uFEFFbom\\uFFFE\"" },
    /* other characters as they are */
    { "caf\xc3\xa9 \xe2\x98\xba \xf0\x9f\x98\x80",
      "\"caf\xc3\xa9 \xe2\x98\xba \xf0\x9f\x98\x80\"" },
    { "\xc2\xa0nbsp", "\"\xc2\xa0nbsp\"" },
};

/* VALUE read back from "k: TEXT" by libfyaml. */
static char *
vp_read_back(const char *text)
{
    g_autofree char *doc_text = g_strdup_printf("k: %s\n", text);
    g_autoptr(VpFyDocument) doc = fy_document_build_from_string(NULL, doc_text, FY_NT);
    g_assert_nonnull(doc);
    struct fy_node *v = fy_node_mapping_lookup_by_string(fy_document_root(doc),
                                                         "k", FY_NT);
    g_assert_nonnull(v);
    g_assert_true(fy_node_is_scalar(v));
    size_t len = 0;
    const char *s = fy_node_get_scalar(v, &len);
    return g_strndup(s, len);
}

static void
test_quote(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(quote_table); i++) {
        g_autoptr(GString) out = g_string_new(NULL);
        vp_yaml_append_quoted(out, quote_table[i].value);
        g_assert_cmpstr(out->str, ==, quote_table[i].quoted);
        g_autofree char *back = vp_read_back(out->str);
        g_assert_cmpstr(back, ==, quote_table[i].value);
    }
}

/* Invalid UTF-8 never reaches the output: it is replaced, not copied. */
static void
test_quote_invalid_utf8(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    vp_yaml_append_quoted(out, "a\xff" "b");
    g_assert_cmpstr(out->str, ==, "\"a\xef\xbf\xbd" "b\"");
}

static void
test_key(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    vp_yaml_append_key(out, 4, "- x");
    g_assert_cmpstr(out->str, ==, "    \"- x\":");
}

/* A key of 1021 characters, 1023 quoted, is an implicit key still; one
 * more and it is explicit, which a YAML reader takes whatever its length. */
static void
test_key_long(void)
{
    g_autofree char *fits = g_strnfill(1021, 'k');
    g_autofree char *longer = g_strnfill(1022, 'k');
    g_autoptr(GString) out = g_string_new(NULL);

    vp_yaml_append_key(out, 2, fits);
    g_assert_true(g_str_has_prefix(out->str, "  \"k"));
    g_assert_true(g_str_has_suffix(out->str, "k\":"));
    g_string_truncate(out, 0);
    vp_yaml_append_key(out, 2, longer);
    g_autofree char *want = g_strdup_printf("  ? \"%s\"\n  :", longer);
    g_assert_cmpstr(out->str, ==, want);

    /* Read back as the only key of a mapping, whose value is a mapping. */
    g_autoptr(GString) doc_text = g_string_new("top:\n");
    vp_yaml_append_key(doc_text, 2, longer);
    g_string_append(doc_text, "\n    v: \"x\"\n");
    g_autoptr(VpFyDocument) doc = fy_document_build_from_string(NULL, doc_text->str,
                                                                FY_NT);
    g_assert_nonnull(doc);
    struct fy_node *top = fy_node_mapping_lookup_by_string(fy_document_root(doc),
                                                           "top", FY_NT);
    g_assert_nonnull(top);
    g_assert_cmpint(fy_node_mapping_item_count(top), ==, 1);
    struct fy_node_pair *pair = fy_node_mapping_get_by_index(top, 0);
    size_t len = 0;
    const char *key = fy_node_get_scalar(fy_node_pair_key(pair), &len);
    g_assert_cmpuint(len, ==, strlen(longer));
    g_assert_true(memcmp(key, longer, len) == 0);
    g_assert_true(fy_node_is_mapping(fy_node_pair_value(pair)));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/yaml/quote/table", test_quote);
    g_test_add_func("/yaml/quote/invalid-utf8", test_quote_invalid_utf8);
    g_test_add_func("/yaml/key/short", test_key);
    g_test_add_func("/yaml/key/long", test_key_long);
    return g_test_run();
}
