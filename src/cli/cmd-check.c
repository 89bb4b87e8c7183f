/* virt-provision check FILE: qemu-img check's verdict, from this project's
 * own reader.  Exit codes as qemu-img: 0 clean, 1 check failed, 2 corrupt,
 * 3 leaks only, 63 not a format with metadata to check. */
#include <inttypes.h>
#include <glib/gi18n.h>

#include "command.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "image-file.h"
#include "json-util.h"
#include "qcow2-reader.h"

/* The key names of qemu-img check --output=json, so that a script can read
 * either tool's report; "problems" is this tool's own addition. */
static JsonNode *
vp_check_json(const char *path, const VpQcow2Check *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    vp_json_add_string(b, "filename", path);
    vp_json_add_string(b, "format", "qcow2");
    vp_json_add_int(b, "check-errors", r->check_errors);
    vp_json_add_int(b, "corruptions", r->corruptions);
    vp_json_add_int(b, "leaks", r->leaks);
    vp_json_add_int(b, "image-end-offset", r->image_end_offset);
    vp_json_add_int(b, "total-clusters", r->total_clusters);
    vp_json_add_int(b, "allocated-clusters", r->allocated_clusters);
    vp_json_add_int(b, "fragmented-clusters", r->fragmented_clusters);
    vp_json_add_int(b, "compressed-clusters", r->compressed_clusters);
    json_builder_set_member_name(b, "problems");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->messages->len; i++) {
        json_builder_add_string_value(b, g_ptr_array_index(r->messages, i));
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* No clusters allocated means nothing fragmented or compressed either: 0 %,
 * not a division by zero. */
static double
vp_percent(guint64 part, guint64 whole)
{
    return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

/* A count as g_dngettext() takes it to pick a plural form: where gulong
 * is narrower than 64 bits, a larger count takes the form of G_MAXULONG. */
static gulong
vp_plural_n(guint64 n)
{
    return (gulong)MIN(n, (guint64)G_MAXULONG);
}

static void
vp_check_human(const VpQcow2Check *r)
{
    /* Each problem first, then the verdict, in qemu-img check's order and
     * wording, so that a reader of one knows how to read the other. */
    for (guint i = 0; i < r->messages->len; i++) {
        g_print("%s %s\n", _("ERROR"), (char *)g_ptr_array_index(r->messages, i));
    }
    /* The reader keeps only the first problems it found, so that a badly
     * damaged image cannot fill memory with messages; the rest are counted. */
    if (r->messages_dropped > 0) {
        g_print(g_dngettext(GETTEXT_PACKAGE,
                            "... and %1$" PRIu64 " more problem\n",
                            "... and %1$" PRIu64 " more problems\n",
                            vp_plural_n(r->messages_dropped)),
                r->messages_dropped);
    }
    if (r->corruptions == 0 && r->leaks == 0 && r->check_errors == 0) {
        g_print(_("No errors were found on the image.\n"));
    }
    if (r->corruptions > 0) {
        g_print(g_dngettext(GETTEXT_PACKAGE,
                            "%1$" PRIu64 " error was found on the image; "
                            "data may be corrupted, and further writes may "
                            "corrupt it.\n",
                            "%1$" PRIu64 " errors were found on the image; "
                            "data may be corrupted, and further writes may "
                            "corrupt it.\n",
                            vp_plural_n(r->corruptions)),
                r->corruptions);
    }
    if (r->leaks > 0) {
        g_print(g_dngettext(GETTEXT_PACKAGE,
                            "%1$" PRIu64 " leaked cluster was found on the "
                            "image: wasted space, but no harm to data.\n",
                            "%1$" PRIu64 " leaked clusters were found on the "
                            "image: wasted space, but no harm to data.\n",
                            vp_plural_n(r->leaks)),
                r->leaks);
    }
    if (r->check_errors > 0) {
        g_print(g_dngettext(GETTEXT_PACKAGE,
                            "%1$" PRIu64 " internal error occurred during "
                            "the check.\n",
                            "%1$" PRIu64 " internal errors occurred during "
                            "the check.\n",
                            vp_plural_n(r->check_errors)),
                r->check_errors);
    }
    g_print(_("%1$" PRIu64 "/%2$" PRIu64 " = %3$.2f%% "
              "allocated, %4$.2f%% fragmented, %5$.2f%% compressed clusters\n"),
            r->allocated_clusters, r->total_clusters,
            vp_percent(r->allocated_clusters, r->total_clusters),
            vp_percent(r->fragmented_clusters, r->allocated_clusters),
            vp_percent(r->compressed_clusters, r->allocated_clusters));
    g_print(_("Image end offset: %1$" PRIu64 "\n"),
            r->image_end_offset);
}

int
vp_cmd_check(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_auto(VpImageFile) file = { .fd = -1 };
    const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
    g_auto(VpQcow2Check) result = { 0 };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, NULL) ||
        !vp_cli_one_file(cmd, argc, argv, &error) ||
        !vp_image_file_open(argv[1], &file, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Not an error of the check (1) but qemu-img's own code for a format
     * without metadata, so that scripts can tell "nothing to check" apart. */
    if (file.img == NULL) {
        g_printerr(_("%1$s: '%2$s' is not a qcow2 image; raw images have no "
                     "metadata to check\n"), g_get_prgname(), argv[1]);
        return VP_EXIT_CHECK_UNSUPPORTED;
    }
    if (!vp_qcow2_image_check(file.img, &result, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* The report is printed whatever the verdict: the exit code says what was
     * found, the report says where. */
    if (vp_global.json) {
        vp_cli_print_json(vp_check_json(argv[1], &result));
    } else if (!vp_global.quiet) {
        vp_check_human(&result);
    }
    /* As qemu-img: a check that could not finish (1) outranks corruption (2),
     * which outranks leaks (3); the worst finding decides. */
    int code = VP_EXIT_OK;
    if (result.check_errors > 0) {
        code = VP_EXIT_FAILED;
    } else if (result.corruptions > 0) {
        code = VP_EXIT_CHECK_CORRUPT;
    } else if (result.leaks > 0) {
        code = VP_EXIT_CHECK_LEAKS;
    }
    return code;
}
