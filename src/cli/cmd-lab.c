/* virt-provision apply|status|destroy LAB.yaml: one manifest over many
 * hosts (design.md, "Labs").  The manifest is read and every guest's
 * options checked as provision would check them before any host is
 * contacted; the workflow does the rest. */
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "command.h"
#include "disk-args.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "interrupt.h"
#include "json-util.h"
#include "lab.h"
#include "manifest.h"
#include "option-hints.h"
#include "run-env.h"
#include "provision-plan.h"
#include "yaml-util.h"

/* Guests in flight per host unless --jobs says otherwise. */
#define VP_LAB_DEFAULT_JOBS 4
#define VP_LAB_MAX_JOBS 64

/* One guest's provision options, parsed from its manifest keys as the
 * command line would parse them: the same table, the same checks. */
typedef struct {
    VpProvisionArgs args;
    VpDiskArgs disk;
    VpProvisionPlan plan;
} VpLabGuestArgs;

static void
vp_lab_guest_args_free(gpointer data)
{
    VpLabGuestArgs *g = data;

    vp_domain_spec_clear(&g->plan.domain);
    vp_provision_args_clear(&g->args);
    vp_disk_args_clear(&g->disk);
    g_free(g);
}

/* Turns guest G of LAB into a provision plan, with the errors provision
 * would give, placed at the guest's entry in the manifest.  The manifest
 * checked each key against the option schema; its values go straight into
 * the fields the command line's options fill, and the same resolution
 * follows.  A base that is a file goes as the real path the manifest's
 * checks resolved, so that what is read later is what was checked. */
static VpLabGuestArgs *
vp_lab_guest_plan(const VpLab *lab, const VpLabGuest *g, GError **error)
{
    g_autoptr(GError) local = NULL;
    VpLabGuestArgs *ga = g_new0(VpLabGuestArgs, 1);
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, g->options);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const VpOptionInfo *info = vp_option_find(key);
        g_assert(info != NULL && (info->flags & VP_OPT_LAB));
        vp_option_set(info, &ga->args, &ga->disk,
                      g_str_equal(key, "base") && g->base_file != NULL
                      ? g->base_file : value);
    }
    ga->args.name = g_strdup(g->name);
    gboolean ok = vp_provision_plan_from_args(&ga->args, &ga->disk,
                                              g->cloud_init, &ga->plan, &local);
    VpQcow2Layout layout;
    /* The check's messages name options as the command line does, like
     * every other message about the guest (the run replaces this with the
     * lab's own, which spells them the same). */
    vp_cli_run_reporting(&ga->plan.run);
    ok = ok && vp_provision_check(&ga->plan, &layout, &local);
    if (!ok) {
        vp_cli_name_option(local);
        /* The manifest speaks of keys: "--size" reads as the key "size". */
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s:%2$u:%3$u: guest '%4$s': %5$s"), lab->path, g->line,
                    g->column, g->name, local->message);
        vp_lab_guest_args_free(ga);
        return NULL;
    }
    return ga;
}

/* ---- output ------------------------------------------------------------ */

typedef struct {
    guint done;
    gboolean lines;  /* a line per guest on stderr */
} VpLabProgress;

static void
vp_lab_progress(const VpLabGuestReport *g, guint total, gpointer data)
{
    VpLabProgress *p = data;

    p->done++;
    if (!p->lines) {
        return;
    }
    /* As the report: why it is not done, else what else happened. */
    const char *reason = g->error != NULL ? g->error : g->note;
    if (reason != NULL) {
        g_printerr("[%u/%u] %s %s %s: %s\n", p->done, total, g->name,
                   g->host != NULL ? g->host : "-",
                   vp_lab_action_to_string(g->action), reason);
    } else {
        g_printerr("[%u/%u] %s %s %s\n", p->done, total, g->name,
                   g->host != NULL ? g->host : "-",
                   vp_lab_action_to_string(g->action));
    }
}

static void
vp_lab_json_volume(JsonBuilder *b, const char *member, const VpLabVolume *v,
                   const char *path)
{
    json_builder_set_member_name(b, member);
    json_builder_begin_object(b);
    vp_json_add_string(b, "pool", v->pool);
    vp_json_add_string(b, "name", v->name);
    if (path != NULL) {
        vp_json_add_string(b, "path", path);
    }
    json_builder_end_object(b);
}

static void
vp_lab_json_guest(JsonBuilder *b, const VpLabGuestReport *g)
{
    json_builder_begin_object(b);
    vp_json_add_string(b, "name", g->name);
    vp_json_add_string(b, "entry", g->entry);
    vp_json_add_string(b, "host", g->host);
    vp_json_add_string(b, "action", vp_lab_action_to_string(g->action));
    vp_json_add_string(b, "error", g->error);
    vp_json_add_string(b, "note", g->note);
    /* The volumes the record names: the disk first, then the seed. */
    if (g->volumes != NULL && g->volumes->len > 0) {
        vp_lab_json_volume(b, "volume", g_ptr_array_index(g->volumes, 0),
                           g->created ? g->result.volume_path : NULL);
    }
    if (g->volumes != NULL && g->volumes->len > 1) {
        vp_lab_json_volume(b, "seed", g_ptr_array_index(g->volumes, 1),
                           g->created ? g->result.seed_path : NULL);
    }
    if (g->exists) {
        json_builder_set_member_name(b, "domain");
        json_builder_begin_object(b);
        vp_json_add_string(b, "name", g->name);
        vp_json_add_string(b, "uuid", g->uuid);
        vp_json_add_bool(b, "active", g->active);
        json_builder_end_object(b);
    }
    /* Its identity on networks: MACs and reserved addresses. */
    if (g->nics != NULL) {
        json_builder_set_member_name(b, "nics");
        json_builder_begin_array(b);
        for (guint i = 0; i < g->nics->len; i++) {
            const VpLabNic *nic = g_ptr_array_index(g->nics, i);
            json_builder_begin_object(b);
            vp_json_add_string(b, "network", nic->network);
            vp_json_add_string(b, "mac", nic->mac);
            vp_json_add_string(b, "ip", nic->ip);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
    }
    if (g->addresses != NULL) {
        vp_json_add_addresses(b, g->addresses);
    }
    json_builder_end_object(b);
}

static JsonNode *
vp_lab_json(const VpLabResult *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    vp_json_add_string(b, "lab", r->lab);
    json_builder_set_member_name(b, "hosts");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->hosts->len; i++) {
        const VpLabHostReport *h = g_ptr_array_index(r->hosts, i);
        json_builder_begin_object(b);
        vp_json_add_string(b, "name", h->name);
        vp_json_add_string(b, "uri", h->uri);
        vp_json_add_bool(b, "reachable", h->reachable);
        vp_json_add_string(b, "error", h->error);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "guests");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->guests->len; i++) {
        vp_lab_json_guest(b, g_ptr_array_index(r->guests, i));
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "networks");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->networks->len; i++) {
        const VpLabNetReport *n = g_ptr_array_index(r->networks, i);
        json_builder_begin_object(b);
        vp_json_add_string(b, "name", n->name);
        vp_json_add_string(b, "host", n->host);
        vp_json_add_string(b, "action", vp_lab_action_to_string(n->action));
        vp_json_add_string(b, "subnet", n->subnet);
        vp_json_add_string(b, "error", n->error);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    vp_json_add_bool(b, "interrupted", r->interrupted);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

static void
vp_lab_human(const VpLabPlan *plan, const VpLabResult *r)
{
    guint counts[VP_LAB_FAILED + 1] = { 0 };

    for (guint i = 0; i < r->hosts->len; i++) {
        const VpLabHostReport *h = g_ptr_array_index(r->hosts, i);
        if (!h->reachable) {
            g_print(_("host %1$s (%2$s) is unreachable: %3$s\n"), h->name,
                    h->uri, h->error);
        }
    }
    /* The networks first: the guests on them come after. */
    for (guint i = 0; i < r->networks->len; i++) {
        const VpLabNetReport *n = g_ptr_array_index(r->networks, i);
        g_print("%-24s %-12s %-9s %s%s%s\n", n->name, n->host,
                vp_lab_action_to_string(n->action), n->subnet != NULL ? n->subnet : "-",
                n->error != NULL ? "  " : "", n->error != NULL ? n->error : "");
    }
    for (guint i = 0; i < r->guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        counts[g->action]++;
        /* An error says why it is not done; a note what else happened. */
        const char *reason = g->error != NULL ? g->error : g->note;
        g_print("%-24s %-12s %-9s%s%s\n", g->name, g->host != NULL ? g->host : "-",
                vp_lab_action_to_string(g->action), reason != NULL ? "  " : "",
                reason != NULL ? reason : "");
        for (guint k = 0; g->addresses != NULL && k < g->addresses->len; k++) {
            const VpAddress *a = g_ptr_array_index(g->addresses, k);
            g_print("    %s/%u %s\n", a->address, a->prefix, a->interface);
        }
    }
    g_autoptr(GString) summary = g_string_new(NULL);
    for (guint a = 0; a <= VP_LAB_FAILED; a++) {
        if (counts[a] > 0) {
            g_string_append_printf(summary, "%s%u %s", summary->len > 0 ? ", " : "",
                                   counts[a], vp_lab_action_to_string(a));
        }
    }
    /* Said once, so that a dry run is never mistaken for the real one. */
    g_print(plan->dry_run ? _("Lab '%1$s' (dry run, nothing changed): %2$s\n")
                          : _("Lab '%1$s': %2$s\n"),
            r->lab, summary->len > 0 ? summary->str : _("no guests"));
}

/* ---- status --inventory ------------------------------------------------ */

/* The guests of one group of the inventory, in report order. */
typedef struct {
    const char *entry;
    GPtrArray *guests; /* const VpLabGuestReport * */
} VpInventoryGroup;

static void
vp_inventory_group_free(gpointer data)
{
    VpInventoryGroup *group = data;

    g_ptr_array_unref(group->guests);
    g_free(group);
}

/* An Ansible YAML inventory: one group per manifest entry, its guests as
 * hosts with their first address as ansible_host, and the libvirt host
 * each runs on.  Every name and value is double-quoted (yaml-util.h):
 * a guest "yes" or "010", a domain "- x" or an entry "!!python/object"
 * from a record read back as those strings.  Keys of our own stay plain. */
static char *
vp_lab_inventory(const VpLabResult *r)
{
    g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func(vp_inventory_group_free);
    g_autoptr(GHashTable) by_entry = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) named = g_hash_table_new(g_str_hash, g_str_equal);

    /* Grouped first: a group's hosts are one mapping, wherever its guests
     * are in the report.  A guest is one host of the inventory: of two
     * copies (made while a host was down), the one the plan keeps, which
     * the report gives first. */
    for (guint i = 0; i < r->guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        if (!g->exists || g->entry == NULL || !g_hash_table_add(named, g->name)) {
            continue;
        }
        VpInventoryGroup *group = g_hash_table_lookup(by_entry, g->entry);
        if (group == NULL) {
            group = g_new0(VpInventoryGroup, 1);
            group->entry = g->entry;
            group->guests = g_ptr_array_new();
            g_ptr_array_add(groups, group);
            g_hash_table_insert(by_entry, g->entry, group);
        }
        g_ptr_array_add(group->guests, (gpointer)g);
    }

    GString *out = g_string_new("all:\n  children:");
    if (groups->len == 0) {
        g_string_append(out, " {}");
    }
    g_string_append_c(out, '\n');
    for (guint i = 0; i < groups->len; i++) {
        const VpInventoryGroup *group = g_ptr_array_index(groups, i);
        vp_yaml_append_key(out, 4, group->entry);
        g_string_append(out, "\n      hosts:\n");
        for (guint k = 0; k < group->guests->len; k++) {
            const VpLabGuestReport *g = g_ptr_array_index(group->guests, k);
            vp_yaml_append_key(out, 8, g->name);
            g_string_append_c(out, '\n');
            if (g->addresses != NULL && g->addresses->len > 0) {
                const VpAddress *a = g_ptr_array_index(g->addresses, 0);
                g_string_append(out, "          ansible_host: ");
                vp_yaml_append_quoted(out, a->address);
                g_string_append_c(out, '\n');
            }
            g_string_append(out, "          libvirt_host: ");
            vp_yaml_append_quoted(out, g->host);
            g_string_append_c(out, '\n');
        }
    }
    return g_string_free(out, FALSE);
}

/* ---- the commands ------------------------------------------------------ */

/* Reads the manifest at PATH (its files beneath its folder or ALLOWED) and
 * makes each guest's provision plan into PLANS, owned by ARGS: everything
 * about the manifest is checked here, before any host. */
static VpLab *
vp_lab_prepare(const char *path, const char *const *allowed, GPtrArray *args,
               GPtrArray *plans, GError **error)
{
    g_autoptr(VpLab) lab = vp_lab_load(path, allowed, error);
    if (lab == NULL) {
        return NULL;
    }
    for (guint i = 0; i < lab->guests->len; i++) {
        VpLabGuestArgs *ga = vp_lab_guest_plan(lab, g_ptr_array_index(lab->guests, i),
                                               error);
        if (ga == NULL) {
            return NULL;
        }
        g_ptr_array_add(args, ga);
        g_ptr_array_add(plans, &ga->plan);
    }
    return g_steal_pointer(&lab);
}

static int
vp_cmd_lab(const VpCommand *cmd, int argc, char **argv, VpLabCommand command)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *jobs_text = NULL;
    g_auto(GStrv) allowed = NULL;
    gboolean dry_run = FALSE, replace = FALSE, prune = FALSE, inventory = FALSE;
    const GOptionEntry apply_entries[] = {
        { "jobs", 'j', 0, G_OPTION_ARG_STRING, &jobs_text,
          N_("Guests in flight per host (default: 4)"), "N" },
        { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
          N_("Print the plan; read the hosts, change nothing"), NULL },
        { "replace", 0, 0, G_OPTION_ARG_NONE, &replace,
          N_("Remove the guests whose options changed and create them again"), NULL },
        { "prune", 0, 0, G_OPTION_ARG_NONE, &prune,
          N_("Delete the lab's guests that the manifest no longer lists, and "
             "second copies of a guest"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    const GOptionEntry status_entries[] = {
        { "inventory", 0, 0, G_OPTION_ARG_NONE, &inventory,
          N_("Print an Ansible YAML inventory of the lab's guests"), NULL },
        G_OPTION_ENTRY_NULL,
    };
    /* Every lab command reads the manifest's files, so each takes it. */
    const GOptionEntry allow_entries[] = {
        { "allow-path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &allowed,
          N_("Let the manifest read files beneath DIR too, not only beneath "
             "its own folder (repeatable)"), N_("DIR") },
        G_OPTION_ENTRY_NULL,
    };
    const GOptionEntry none[] = { G_OPTION_ENTRY_NULL };
    const GOptionEntry *entries = command == VP_LAB_APPLY    ? apply_entries
                                  : command == VP_LAB_STATUS ? status_entries
                                                             : none;

    if (!vp_cli_parse(cmd, &argc, &argv, &error, entries, allow_entries, NULL)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (argc != 2) {
        g_set_error(&error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s needs exactly one manifest, such as "
                      "'virt-provision %1$s lab.yaml'"), cmd->name);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    guint64 jobs = VP_LAB_DEFAULT_JOBS;
    if (jobs_text != NULL &&
        (!g_ascii_string_to_unsigned(jobs_text, 10, 1, VP_LAB_MAX_JOBS, &jobs, NULL))) {
        g_set_error(&error, VP_ERROR, VP_ERROR_INVALID,
                    _("--jobs: invalid number '%1$s'; give a whole number from "
                      "1 to %2$d"), jobs_text, VP_LAB_MAX_JOBS);
        return vp_cli_fail(g_steal_pointer(&error));
    }
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(vp_lab_guest_args_free);
    g_autoptr(GPtrArray) plans = g_ptr_array_new();
    g_autoptr(VpLab) lab = vp_lab_prepare(argv[1], (const char *const *)allowed,
                                          args, plans, &error);
    if (lab == NULL) {
        return vp_cli_fail(g_steal_pointer(&error));
    }

    VpLabProgress progress = {
        .lines = isatty(STDERR_FILENO) && !vp_global.quiet && !vp_global.json &&
                 !inventory,
    };
    VpLabPlan plan = {
        .lab = lab,
        .plans = plans,
        .command = command,
        .dry_run = dry_run,
        .replace = replace,
        .prune = prune,
        .jobs = (guint)jobs,
        .addresses = command == VP_LAB_STATUS,
        .report = vp_lab_progress,
        .report_data = &progress,
    };
    g_auto(VpLabResult) result = { 0 };
    /* Not vp_cli_run_env: the hosts are the manifest's, never --connect or
     * LIBVIRT_DEFAULT_URI, and many uploads at once have a line each
     * instead of a progress bar. */
    vp_cli_run_reporting(&plan.run);
    plan.run.cancel = vp_interrupt_cancel();
    vp_interrupt_install();
    if (!vp_lab_run(&plan, &result, &error)) {
        return vp_cli_fail(g_steal_pointer(&error));
    }
    if (inventory) {
        g_autofree char *text = vp_lab_inventory(&result);
        g_print("%s", text);
    } else if (vp_global.json) {
        vp_cli_print_json(vp_lab_json(&result));
    } else if (!vp_global.quiet) {
        vp_lab_human(&plan, &result);
    }
    guint bad = 0, hosts = 0;
    if (vp_lab_result_ok(&plan, &result, &bad, &hosts)) {
        return VP_EXIT_OK;
    }
    /* The details are in the report; stderr says that there are some, so
     * that a log of stderr alone still shows why the run failed. */
    if (!vp_global.quiet) {
        g_printerr(command == VP_LAB_STATUS
                       ? _("%1$s: lab '%2$s' is not as its manifest says: %3$u guests "
                           "differ, %4$u hosts unreachable\n")
                       : _("%1$s: lab '%2$s': %3$u guests failed, conflicting or "
                           "drifted, %4$u hosts unreachable; see the report\n"),
                   g_get_prgname(), result.lab, bad, hosts);
    }
    return VP_EXIT_FAILED;
}

int
vp_cmd_apply(const VpCommand *cmd, int argc, char **argv)
{
    return vp_cmd_lab(cmd, argc, argv, VP_LAB_APPLY);
}

int
vp_cmd_status(const VpCommand *cmd, int argc, char **argv)
{
    return vp_cmd_lab(cmd, argc, argv, VP_LAB_STATUS);
}

int
vp_cmd_destroy(const VpCommand *cmd, int argc, char **argv)
{
    return vp_cmd_lab(cmd, argc, argv, VP_LAB_DESTROY);
}
