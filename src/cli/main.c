/* virt-provision: entry point.  Finds the subcommand and hands it the rest
 * of the command line; global options may stand before or after it.
 *
 * This file builds two programs.  virt-provision itself links no libvirt:
 * the offline commands (image, info, check) start in a few milliseconds and
 * a few MiB.  For the commands that talk to libvirt it executes
 * virt-provision-libvirt (built with VP_WITH_LIBVIRT) with the same
 * arguments. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "command.h"
#include "exit-codes.h"
#include "interrupt.h"
#ifndef VP_WITH_LIBVIRT
#include "front.h"
#else
#include "terminal.h"
#endif


/* One command table for both programs: in the front program every libvirt
 * entry becomes vp_exec_libvirt, so the two can never disagree on which
 * commands exist or how they are spelled, and the front program needs no
 * libvirt symbol to link. */
#ifdef VP_WITH_LIBVIRT
#define VP_LIBVIRT_RUN(fn) fn
#else
static int vp_exec_libvirt(const VpCommand *cmd, int argc, char **argv);
#define VP_LIBVIRT_RUN(fn) vp_exec_libvirt
static char **vp_original_argv;
#endif

static const VpCommand vp_commands[] = {
    {
        .name = "provision",
        .params = "",
        .summary = N_("Create a preallocated qcow2 volume in a libvirt pool and "
                      "a guest that installs onto it (the default command)."),
        .description = N_("Examples:\n"
                          "  virt-provision --pool default --name zabbix "
                          "--size 20G --cdrom debian.iso\n"
                          "  virt-provision -c qemu:///session --pool default "
                          "--name ci-42 --size 20G --import --start\n"
                          "  virt-provision --pool default --name data --size "
                          "1T --no-define\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_provision),
    },
    {
        .name = "attach",
        .params = "",
        .summary = N_("Add a new preallocated qcow2 volume to a domain as a "
                      "disk, on the next free target."),
        .description = N_("Examples:\n"
                          "  virt-provision attach --domain web1 --pool default "
                          "--size 100G\n"
                          "  virt-provision attach --domain web1 --pool default "
                          "--size 100G --live\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_attach),
    },
    {
        .name = "import",
        .params = N_("FILE"),
        .summary = N_("Put a local raw or qcow2 image into a pool as a volume, "
                      "such as a cloud image to base overlays on."),
        .description = N_("The file's bytes go as they are, through a sparse "
                          "stream (a compressed qcow2 stays compressed); "
                          "--preallocate writes a metadata-preallocated qcow2 "
                          "of its contents instead.  A qcow2 with a backing "
                          "file is refused.\n\n"
                          "Examples:\n"
                          "  virt-provision import debian-12.qcow2 --pool "
                          "default\n"
                          "  virt-provision import disk.img --pool default "
                          "--name base.img\n"
                          "  virt-provision import debian-12.qcow2 --pool "
                          "default --name debian-12-prealloc.qcow2 "
                          "--preallocate\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_import),
    },
    {
        .name = "apply",
        .params = N_("LAB.yaml"),
        .summary = N_("Create the guests of a lab manifest on its hosts, in "
                      "parallel; keep what is already there."),
        .description = N_("Guests carry the lab's ownership record on their "
                          "host; nothing without it is ever changed.\n"
                          "Exit status: 0 every guest is as the manifest says, "
                          "1 a guest failed, conflicted or drifted, or a host "
                          "was unreachable, 2 bad usage or manifest.\n"
                          "Examples:\n"
                          "  virt-provision apply lab.yaml\n"
                          "  virt-provision apply lab.yaml --dry-run\n"
                          "  virt-provision --json apply lab.yaml --replace "
                          "--prune --jobs 8\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_apply),
    },
    {
        .name = "status",
        .params = N_("LAB.yaml"),
        .summary = N_("Compare a lab manifest with its hosts: what exists, "
                      "what is missing or changed, and the guests' addresses."),
        .description = N_("Exit status: 0 the lab is as the manifest says, 1 "
                          "it is not (or a host was unreachable), 2 bad usage "
                          "or manifest.\n"
                          "Examples:\n"
                          "  virt-provision status lab.yaml\n"
                          "  virt-provision status lab.yaml --inventory > "
                          "inventory.yaml\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_status),
    },
    {
        .name = "destroy",
        .params = N_("LAB.yaml"),
        .summary = N_("Remove every guest of a lab from its hosts, with the "
                      "volumes its record names; bases stay."),
        .description = N_("Example:\n  virt-provision destroy lab.yaml\n"),
        .run = VP_LIBVIRT_RUN(vp_cmd_destroy),
    },
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
        .params = N_("FILE | --pool POOL --volume VOLUME"),
        .summary = N_("Show an image's format, sizes, features and "
                      "preallocation state."),
        .description = N_("Example:\n  virt-provision info --json disk.qcow2\n"),
        .run = vp_cmd_info,
        /* info and convert serve files offline and libvirt objects online:
         * these options move the command to its libvirt entry (and program). */
        .libvirt_options = (const char *const[]){ "--pool", "-p", "--volume", NULL },
        .run_libvirt = VP_LIBVIRT_RUN(vp_cmd_info_volume),
    },
    {
        .name = "convert",
        .params = N_("SRC DST | --domain DOMAIN"),
        .summary = N_("Copy a raw or qcow2 disk into a new preallocated qcow2 "
                      "image, or switch a domain's disk to one."),
        .description = N_("Examples:\n"
                          "  virt-provision convert guest.img guest.qcow2\n"
                          "  virt-provision convert --domain web1 --disk vda\n"
                          "  virt-provision convert --domain web1 --print-diff\n"),
        .run = vp_cmd_convert_file,
        .libvirt_options = (const char *const[]){ "--domain", "-d", NULL },
        .run_libvirt = VP_LIBVIRT_RUN(vp_cmd_convert_domain),
    },
    {
        .name = "check",
        .params = N_("FILE"),
        .summary = N_("Check a qcow2 image's metadata as qemu-img check does."),
        /* As qemu-img check, so that scripts written for it keep working; 1 is
         * left to "could not check" as for every other command. */
        .description = N_("Exit status: 0 clean, 1 the check failed, 2 "
                          "corruption, 3 leaked clusters only.\n"),
        .run = vp_cmd_check,
    },
};

static void
vp_print_usage(FILE *out)
{
    fprintf(out, "%s\n\n%s\n",
            _("Usage: virt-provision [GLOBAL OPTIONS] [COMMAND] [OPTIONS]\n"
              "       virt-provision --pool POOL --name NAME --size SIZE "
              "[OPTIONS]"),
            _("Commands:"));
    for (gsize i = 0; i < G_N_ELEMENTS(vp_commands); i++) {
        fprintf(out, "  %-10s %s\n", vp_commands[i].name,
                _(vp_commands[i].summary));
    }
    static const struct {
        const char *option;
        const char *help;
    } globals[] = {
        { "-c, --connect URI", N_("libvirt URI (default: LIBVIRT_DEFAULT_URI)") },
        { "--json", N_("print one JSON document on stdout") },
        { "-q, --quiet", N_("print nothing but errors") },
        { "-v, --verbose", N_("explain each step on stderr") },
        { "--version", N_("print the version") },
        { "-h, --help", N_("show this help; COMMAND --help for a command") },
    };
    fprintf(out, "\n%s\n", _("Global options:"));
    for (gsize i = 0; i < G_N_ELEMENTS(globals); i++) {
        fprintf(out, "  %-19s %s\n", globals[i].option, _(globals[i].help));
    }
    fprintf(out, "\n%s\n", _("Exit status: 0 success, 1 the operation failed, 2 "
                              "bad usage or input."));
}

#ifndef VP_WITH_LIBVIRT
/* The libvirt-linked program: next to this one (a build tree, or an
 * installation that keeps them together), else in the libexec directory. */
static char *
vp_libvirt_program(void)
{
    /* /proc/self/exe rather than argv[0]: a relative or PATH-found argv[0]
     * says nothing reliable about where the binary is. */
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);

    if (self != NULL) {
        g_autofree char *dir = g_path_get_dirname(self);
        char *beside = g_build_filename(dir, "virt-provision-libvirt", NULL);
        if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE)) {
            return beside;
        }
        g_free(beside);
    }
    return g_build_filename(VP_LIBEXECDIR, "virt-provision-libvirt", NULL);
}

/* The command being handed to the libvirt program, for the message. */
static const char *vp_exec_command;

static void
vp_exec_failed(const char *program, int err)
{
    g_printerr(_("%1$s: cannot run '%2$s' for the %3$s command: %4$s; "
                 "reinstall virt-provision\n"),
               g_get_prgname(), program, vp_exec_command, g_strerror(err));
}

static int
vp_exec_libvirt(const VpCommand *cmd, int argc, char **argv)
{
    g_autofree char *program = vp_libvirt_program();

    /* The original argv, not the one with the command word removed: the
     * libvirt program repeats this dispatch and must see exactly what the user
     * typed.  Nothing has been printed or changed yet, so exec is safe.  At
     * a terminal it runs as a child, out of Ctrl-C's reach (front.h). */
    vp_exec_command = cmd->name;
    int code = vp_front_run(program, vp_original_argv, vp_exec_failed);
    if (code >= 0) {
        return code;
    }
    execv(program, vp_original_argv);
    vp_exec_failed(program, errno);
    /* The user's command was fine; the installation is not: 1, not 2. */
    return VP_EXIT_FAILED;
}
#endif

static gboolean
vp_has_option(int argc, char **argv, const char *const *names)
{
    /* Also "--pool=x".  Any position counts, since options may come before or
     * after the file. */
    for (int i = 1; i < argc; i++) {
        for (const char *const *n = names; *n != NULL; n++) {
            g_autofree char *with_value = g_strconcat(*n, "=", NULL);
            if (strcmp(argv[i], *n) == 0 || g_str_has_prefix(argv[i], with_value)) {
                return TRUE;
            }
        }
    }
    return FALSE;
}

static gboolean
vp_is_global_option(const char *arg)
{
    /* Only the global options that take part in finding the command; --version
     * and --help are answered right after, where they stand. */
    static const char *const globals[] = {
        "-c", "--connect", "--json", "-q", "--quiet", "-v", "--verbose",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(globals); i++) {
        if (strcmp(arg, globals[i]) == 0) {
            return TRUE;
        }
    }
    return g_str_has_prefix(arg, "--connect=");
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

/* Runs the command at ARGV[INDEX] (provision when there is none there) and
 * returns its exit code. */
static int
vp_run_command(int argc, char **argv, int index)
{
    /* An option where the command would be: provision, the default command,
     * which gets every argument. */
    if (index >= argc || argv[index][0] == '-') {
        const VpCommand *provision = vp_find_command("provision");
        return provision->run(provision, argc, argv);
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
    if (cmd->libvirt_options != NULL &&
        vp_has_option(n, args, cmd->libvirt_options)) {
        return cmd->run_libvirt(cmd, n, args);
    }
    return cmd->run(cmd, n, args);
}

int
main(int argc, char **argv)
{
    /* For tests of the translations from the build tree, where the catalogs
     * are not yet in the installed locale directory. */
    const char *localedir = g_getenv("VIRT_PROVISION_LOCALEDIR");

    setlocale(LC_ALL, "");
    bindtextdomain(GETTEXT_PACKAGE, localedir != NULL ? localedir : VP_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
    textdomain(GETTEXT_PACKAGE);
    g_set_prgname("virt-provision");
    /* A daemon that goes away mid-stream must be an error to unwind from,
     * not a signal that kills the tool before its undo runs. */
    signal(SIGPIPE, SIG_IGN);
#ifndef VP_WITH_LIBVIRT
    vp_original_argv = argv;
#else
    vp_terminal_init();
#endif

    /* The command is the first argument that is not a global option (or
     * a global option's value).  With none, the command is provision, which
     * is the whole point: virt-provision --pool default --name x --size 20G */
    int index = 1;
    while (index < argc && vp_is_global_option(argv[index])) {
        /* -c takes its value as the next argument, which must not be taken for
         * the command. */
        if (strcmp(argv[index], "-c") == 0 || strcmp(argv[index], "--connect") == 0) {
            index++;
        }
        index++;
    }
    if (index < argc && strcmp(argv[index], "--version") == 0) {
        printf("virt-provision %s\n", VP_VERSION);
        return VP_EXIT_OK;
    }
    if (argc == 1) {
        g_printerr(_("%1$s: no command given; see 'virt-provision --help'\n"),
                   g_get_prgname());
        return VP_EXIT_USAGE;
    }
    if (index < argc && (strcmp(argv[index], "-h") == 0 ||
                         strcmp(argv[index], "--help") == 0)) {
        vp_print_usage(stdout);
        return VP_EXIT_OK;
    }
    /* Every command ends here, so that an interrupted one dies of its
     * signal once its undo is done. */
    return vp_interrupt_exit(vp_run_command(argc, argv, index));
}
