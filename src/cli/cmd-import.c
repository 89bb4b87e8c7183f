/* virt-provision import FILE --pool POOL: a local raw or qcow2 image put
 * into a pool as a volume, such as a cloud image to be the base of
 * overlays (in virt-provision-libvirt). */
#include <inttypes.h>

#include <glib/gi18n.h>

#include "command.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "import.h"
#include "interrupt.h"
#include "json-util.h"
#include "run-env.h"
#include "size.h"

static JsonNode *
vp_import_json(const VpImportResult *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    /* info --json's names for the image, then where it went. */
    vp_json_add_string(b, "filename", r->path);
    vp_json_add_string(b, "format", r->format);
    vp_json_add_int(b, "virtual-size", r->virtual_size);
    vp_json_add_string(b, "source-format", r->source_format);
    vp_json_add_int(b, "file-length", r->file_length);
    vp_json_add_string(b, "uri", r->uri);
    vp_json_add_string(b, "pool", r->pool);
    vp_json_add_bool(b, "pool-created", r->pool_created);
    vp_json_add_string(b, "volume", r->volume);
    vp_json_add_string(b, "path", r->volume_path);
    vp_json_add_int(b, "capacity", r->capacity);
    vp_json_add_int(b, "allocation", r->allocation);
    vp_json_add_int(b, "volume-length", r->volume_length);
    vp_json_add_int(b, "bytes-sent", r->bytes_sent);
    vp_json_add_string(b, "preallocation",
                       vp_preallocation_to_string(r->preallocation));
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* For people: the same facts as the JSON, with sizes made readable. */
static void
vp_import_human(const VpImportResult *r)
{
    g_autofree char *size = vp_size_format(r->virtual_size);
    g_autofree char *sent = vp_size_format(r->bytes_sent);
    g_autofree char *length = vp_size_format(r->file_length);

    if (r->pool_created) {
        g_print(_("Created storage pool '%1$s'\n"), r->pool);
    }
    g_print(_("Imported '%1$s' (%2$s) into volume '%3$s' in pool '%4$s'\n"),
            r->path, r->source_format, r->volume, r->pool);
    /* The indent of the detail lines is layout, not text: outside _(). */
    g_print("  ");
    g_print(_("path:          %1$s\n"), r->volume_path);
    g_print("  ");
    /* Without --preallocate the volume is the file's bytes, so it keeps
     * whatever preallocation the file had; the tool does not examine it. */
    if (r->preallocation == VP_PREALLOC_OFF) {
        g_print(_("format:        %1$s, preallocation as in the file\n"),
                r->format);
    } else {
        g_print(_("format:        %1$s, preallocation %2$s\n"), r->format,
                vp_preallocation_to_string(r->preallocation));
    }
    g_print("  ");
    g_print(_("virtual size:  %1$s (%2$" PRIu64 " bytes)\n"), size,
            r->virtual_size);
    g_print("  ");
    /* TRANSLATORS: data bytes the upload carried (holes travel free), and
     * the length of the file imported. */
    g_print(_("sent:          %1$s of data for a %2$s file (%3$" PRIu64
              " of %4$" PRIu64 " bytes)\n"),
            sent, length, r->bytes_sent, r->file_length);
}

int
vp_cmd_import(const VpCommand *cmd, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *pool = NULL;
    g_autofree char *name = NULL;
    g_autofree char *source_format = NULL;
    gboolean preallocate = FALSE;
    const GOptionEntry entries[] = {
        { "pool", 'p', 0, G_OPTION_ARG_STRING, &pool,
          N_("Storage pool to import into"), N_("POOL") },
        { "name", 'n', 0, G_OPTION_ARG_STRING, &name,
          N_("Volume name (default: the file's name)"), N_("VOLUME") },
        { "preallocate", 0, 0, G_OPTION_ARG_NONE, &preallocate,
          N_("Write a metadata-preallocated qcow2 of the image's contents "
             "instead of its bytes as they are"), NULL },
        { "source-format", 0, 0, G_OPTION_ARG_STRING, &source_format,
          N_("Format of FILE: raw or qcow2 (default: qcow2 if its header "
             "says so, else raw)"), N_("FORMAT") },
        G_OPTION_ENTRY_NULL,
    };
    VpImportPlan plan = { 0 };
    g_auto(VpImportResult) result = { 0 };

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, NULL) ||
        !vp_cli_one_file(cmd, argc, argv, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    /* Checked here, not by GOption, so that the message carries an example. */
    if (pool == NULL) {
        g_set_error_literal(&error, VP_ERROR, VP_ERROR_INVALID,
                            _("import needs --pool, such as virt-provision "
                              "import debian-12.qcow2 --pool default"));
        return vp_cli_fail(g_steal_pointer(&error));
    }
    plan.path = argv[1];
    plan.pool = pool;
    plan.volume = name;
    plan.source_format = source_format;
    plan.preallocate = preallocate;
    /* Before the run: the upload must be interruptible, and the workflow then
     * deletes the half-made volume (vp_cli_run_env installs the handlers). */
    if (!vp_cli_run_env(&plan.run, _("uploading"), &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (!vp_import_run(&plan, &result, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (vp_global.json) {
        vp_cli_print_json(vp_import_json(&result));
    } else if (!vp_global.quiet) {
        vp_import_human(&result);
    }
    return VP_EXIT_OK;
}
