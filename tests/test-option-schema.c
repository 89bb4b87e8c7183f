/* The option schema (src/core/options/provision-options.h) against the
 * two things built from it: the command line's GOption entries and the
 * manifest's keys.  With --dump, prints the table instead, one option a
 * line, for tests/option_schema.py (--help, the man page, the completion
 * and zh_CN against the schema):
 *     NAME <TAB> SHORT <TAB> FLAGS <TAB> ARG <TAB> HELP
 * FLAGS: "lab", "disk", "optional" joined by ","; "-" for none; SHORT and
 * ARG "-" when absent. */
#include <string.h>

#include <glib.h>

#include "disk-args.h"
#include "manifest.h"
#include "provision-args.h"
#include "provision-options.h"

static int
vp_dump(void)
{
    gsize n = 0;
    const VpOptionInfo *opts = vp_options(&n);

    for (gsize i = 0; i < n; i++) {
        const VpOptionInfo *o = &opts[i];
        g_autoptr(GPtrArray) flags = g_ptr_array_new();
        if (o->flags & VP_OPT_LAB) {
            g_ptr_array_add(flags, "lab");
        }
        if (o->flags & VP_OPT_DISK) {
            g_ptr_array_add(flags, "disk");
        }
        if (o->flags & VP_OPT_VALUE_OPTIONAL) {
            g_ptr_array_add(flags, "optional");
        }
        g_ptr_array_add(flags, NULL);
        g_autofree char *joined = g_strjoinv(",", (char **)flags->pdata);
        char shorts[2] = { o->short_name, '\0' };
        g_print("%s\t%s\t%s\t%s\t%s\n", o->name,
                o->short_name != 0 ? shorts : "-",
                joined[0] != '\0' ? joined : "-",
                o->arg != NULL ? o->arg : "-", o->help);
    }
    return 0;
}

/* Every row is complete and self-consistent: a help text, a placeholder
 * exactly when a value is taken, an example the row's own check accepts,
 * a hint wherever a check can refuse, names unique. */
static void
test_rows(void)
{
    gsize n = 0;
    const VpOptionInfo *opts = vp_options(&n);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    g_assert_cmpuint(n, >=, 36);
    for (gsize i = 0; i < n; i++) {
        const VpOptionInfo *o = &opts[i];
        g_test_message("%s", o->name);
        g_assert_true(g_hash_table_add(seen, (gpointer)o->name));
        g_assert_nonnull(o->help);
        g_assert_cmpint(o->arg == NULL, ==, o->kind == VP_OPT_FLAG);
        if (o->kind != VP_OPT_TEXT && o->kind != VP_OPT_FILE &&
            o->kind != VP_OPT_SIZE && !(o->flags & VP_OPT_VALUE_OPTIONAL)) {
            g_assert_nonnull(o->hint);
        }
        if (o->flags & VP_OPT_LAB) {
            g_assert_nonnull(o->example);
        }
        if (o->example != NULL && o->kind != VP_OPT_SUBOPTIONS) {
            g_assert_true(vp_option_value_ok(o, o->example));
        }
        g_assert_cmpint(o->subs != NULL, ==, o->kind == VP_OPT_SUBOPTIONS);
        g_assert_cmpint(o->sub_noun != NULL, ==, o->kind == VP_OPT_SUBOPTIONS);
    }
    g_assert_true(vp_option_value_ok(vp_option_find("network"), "bridge=br0"));
    g_assert_false(vp_option_value_ok(vp_option_find("network"),
                                      "user,none"));
    g_assert_false(vp_option_value_ok(vp_option_find("vcpus"), "010"));
    g_assert_false(vp_option_value_ok(vp_option_find("cluster-size"), "3K"));
}

/* The GOption entries are the table: same names, short names, help and
 * placeholders, a flag exactly where the schema has one, and each entry
 * writes where the schema says, so that setting through the entry and
 * through vp_option_set are the same. */
static void
test_entries(void)
{
    gsize n = 0;
    vp_options(&n);
    g_auto(VpProvisionArgs) p = { 0 };
    g_auto(VpDiskArgs) d = { 0 };
    g_autofree GOptionEntry *prov = vp_provision_option_entries(&p);
    g_autofree GOptionEntry *disk = vp_disk_option_entries(&d);
    gsize counted = 0;

    for (const GOptionEntry *tables[] = { prov, disk, NULL }, **t = tables;
         *t != NULL; t++) {
        for (const GOptionEntry *e = *t; e->long_name != NULL; e++) {
            const VpOptionInfo *o = vp_option_find(e->long_name);
            g_test_message("--%s", e->long_name);
            g_assert_nonnull(o);
            g_assert_cmpint(e->short_name, ==, o->short_name);
            g_assert_cmpstr(e->description, ==, o->help);
            g_assert_cmpstr(e->arg_description, ==, o->arg);
            g_assert_cmpint(!(o->flags & VP_OPT_DISK), ==, *t == prov);
            if (o->kind == VP_OPT_FLAG) {
                g_assert_cmpint(e->arg, ==, G_OPTION_ARG_NONE);
                g_assert_true(e->arg_data == vp_option_flag(o, &p, &d));
            } else if (o->flags & VP_OPT_REPEATABLE) {
                g_assert_cmpint(e->arg, ==, G_OPTION_ARG_STRING_ARRAY);
                g_assert_true(e->arg_data == vp_option_list(o, &p, &d));
            } else if (e->arg != G_OPTION_ARG_CALLBACK) {
                g_assert_true(e->arg_data == vp_option_text(o, &p, &d));
            } else {
                g_assert_true(o->flags & VP_OPT_VALUE_OPTIONAL);
            }
            counted++;
        }
    }
    g_assert_cmpuint(counted, ==, n);
}

/* A manifest takes exactly the options the schema lets a lab set, by
 * their long names: each alone in a guest is never "unknown" and, with
 * its example, lands in the guest's options as written; the others are
 * refused as about a run. */
#define HEAD "lab: t\nhosts: {h: 'qemu:///session'}\n" \
             "defaults: {pool: default, size: 20G}\n"

static void
test_manifest_keys(void)
{
    gsize n = 0;
    const VpOptionInfo *opts = vp_options(&n);
    guint lab_keys = 0;

    for (gsize i = 0; i < n; i++) {
        const VpOptionInfo *o = &opts[i];
        if (g_str_equal(o->name, "name")) {
            continue; /* a guest entry's own key */
        }
        const char *value = g_str_equal(o->name, "cloud-init") ? "true"
                            : o->example != NULL ? o->example : "true";
        g_autofree char *text = g_strdup_printf(
            HEAD
            "guests:\n  - name: g\n    %s: '%s'\n", o->name, value);
        /* Numbers and booleans are plain in a manifest: unquoted. */
        if (o->kind == VP_OPT_INTEGER || o->kind == VP_OPT_FLAG ||
            o->kind == VP_OPT_WAIT || g_str_equal(o->name, "cloud-init")) {
            g_free(text);
            text = g_strdup_printf(HEAD
                                   "guests:\n  - name: g\n    %s: %s\n",
                                   o->name, value);
        }
        g_autoptr(GError) error = NULL;
        g_autoptr(VpLab) lab = vp_lab_parse(text, strlen(text), "t.yaml", NULL,
                                            &error);
        g_test_message("%s: %s", o->name, error != NULL ? error->message : "ok");
        if (!(o->flags & VP_OPT_LAB)) {
            g_assert_null(lab);
            g_assert_nonnull(strstr(error->message, "is about a run"));
            continue;
        }
        lab_keys++;
        if (lab == NULL) {
            /* Only a combination the key makes alone may be refused. */
            g_assert_null(strstr(error->message, "unknown key"));
            g_assert_null(strstr(error->message, "is about a run"));
            continue;
        }
        const VpLabGuest *g = g_ptr_array_index(lab->guests, 0);
        if (g_str_equal(o->name, "cloud-init")) {
            g_assert_nonnull(g->cloud_init);
        } else {
            g_assert_cmpstr(g_hash_table_lookup(g->options, o->name), ==, value);
        }
    }
    g_assert_cmpuint(lab_keys, >=, 30);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump") == 0) {
        return vp_dump();
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/option-schema/rows", test_rows);
    g_test_add_func("/option-schema/entries", test_entries);
    g_test_add_func("/option-schema/manifest-keys", test_manifest_keys);
    return g_test_run();
}
