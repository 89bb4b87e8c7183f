/* virt-provision: entry point.  Finds the subcommand and hands it the rest
 * of the command line; global options may stand before or after it. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "cli.h"

static const VpCommand vp_commands[] = {
    {
        .name = "image",
        .params = N_("FILE"),
        .summary = N_("Write a new qcow2 (or raw) image file, with no libvirt "
                      "involved."),
        .description = N_("Examples:\n"
                          "  virt-provision image disk.qcow2 --size 20G\n"
                          "  virt-provision image big.qcow2 --size 4T "
                          "--cluster-size 2M\n"
                          "  virt-provision image overlay.qcow2 --size 20G "
                          "--backing base.qcow2 --backing-format qcow2 "
                          "--preallocation off\n"),
        .run = vp_cmd_image,
    },
    {
        .name = "info",
        .params = N_("FILE"),
        .summary = N_("Show an image's format, sizes, features and "
                      "preallocation state."),
        .description = N_("Example:\n  virt-provision info --json disk.qcow2\n"),
        .run = vp_cmd_info,
    },
    {
        .name = "check",
        .params = N_("FILE"),
        .summary = N_("Check a qcow2 image's metadata as qemu-img check does."),
        .description = N_("Exit status: 0 clean, 1 the check failed, 2 "
                          "corruption, 3 leaked clusters only.\n"),
        .run = vp_cmd_check,
    },
};

static void
vp_print_usage(FILE *out)
{
    fprintf(out, "%s\n\n%s\n",
            _("Usage: virt-provision [GLOBAL OPTIONS] COMMAND [OPTIONS]"),
            _("Commands:"));
    for (gsize i = 0; i < G_N_ELEMENTS(vp_commands); i++) {
        fprintf(out, "  %-8s %s\n", vp_commands[i].name,
                _(vp_commands[i].summary));
    }
    fprintf(out, "\n%s\n  %s\n  %s\n  %s\n  %s\n  %s\n\n%s\n",
            _("Global options:"),
            _("--json          print one JSON document on stdout"),
            _("-q, --quiet     print nothing but errors"),
            _("-v, --verbose   explain each step on stderr"),
            _("--version       print the version"),
            _("-h, --help      show this help; COMMAND --help for a command"),
            _("Exit status: 0 success, 1 the operation failed, 2 bad usage "
              "or input."));
}

static const VpCommand *
vp_find_command(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(vp_commands); i++) {
        if (strcmp(vp_commands[i].name, name) == 0) {
            return &vp_commands[i];
        }
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *localedir = g_getenv("VIRT_PROVISION_LOCALEDIR");

    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, localedir != NULL ? localedir : VP_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    g_set_prgname("virt-provision");

    /* The command is the first word that is not an option. */
    int index = 1;
    while (index < argc && argv[index][0] == '-' && strcmp(argv[index], "--") != 0) {
        index++;
    }
    if (index >= argc) {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--version") == 0) {
                printf("virt-provision %s\n", VP_VERSION);
                return VP_EXIT_OK;
            }
            if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                vp_print_usage(stdout);
                return VP_EXIT_OK;
            }
        }
        g_printerr(_("%1$s: no command given; see 'virt-provision --help'\n"),
                   g_get_prgname());
        return VP_EXIT_USAGE;
    }
    const VpCommand *cmd = vp_find_command(argv[index]);
    if (cmd == NULL) {
        g_printerr(_("%1$s: unknown command '%2$s'; see 'virt-provision "
                     "--help'\n"), g_get_prgname(), argv[index]);
        return VP_EXIT_USAGE;
    }

    /* Hand the command its arguments with the command word removed, so
     * that options before it are parsed together with the ones after. */
    g_autofree char **args = g_new0(char *, argc);
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i != index) {
            args[n++] = argv[i];
        }
    }
    return cmd->run(cmd, n, args);
}
