/* A command of the command line: its entry in main()'s table, its option
 * parsing (with the global options, global-options.h), and every command's
 * entry point.  Only this layer prints; everything below reports through
 * GError (exit-codes.h turns that into a line and an exit code). */
#pragma once

#include <glib.h>

/* A subcommand: parses its own ARGV (which still holds the global options)
 * and returns an exit code. */
typedef struct VpCommand VpCommand;
struct VpCommand {
    const char *name;
    const char *params;  /* e.g. "FILE" */
    const char *summary; /* N_() */
    const char *description; /* N_(), shown after the options in --help */
    int (*run)(const VpCommand *cmd, int argc, char **argv);
    /* When one of these options is given (NULL-terminated; may be NULL),
     * RUN_LIBVIRT runs instead: the form of the command that talks to
     * libvirt (info --pool, convert --domain). */
    const char *const *libvirt_options;
    int (*run_libvirt)(const VpCommand *cmd, int argc, char **argv);
};

/* Parses ARGV for CMD with its ENTRIES (NULL-terminated tables, any number
 * before the final NULL) plus the global options.  On a usage error returns
 * FALSE with G_OPTION_ERROR set; an option of string or file name type
 * given an empty or blank value is one (G_OPTION_ERROR_BAD_VALUE, naming
 * the option).  A --connect URI that would run a local command (uri.h) is
 * VP_ERROR_INVALID naming --connect, whatever the command. */
gboolean vp_cli_parse(const VpCommand *cmd, int *argc, char ***argv,
                      GError **error, const GOptionEntry *entries, ...)
    G_GNUC_NULL_TERMINATED;

/* vp_cli_parse for entries with callbacks (G_OPTION_ARG_CALLBACK): GOption
 * passes DATA, the user data of the group they are parsed in, to each. */
gboolean vp_cli_parse_data(const VpCommand *cmd, gpointer data, int *argc,
                           char ***argv, GError **error,
                           const GOptionEntry *entries, ...)
    G_GNUC_NULL_TERMINATED;

/* Exactly one positional FILE after parsing, else a usage error. */
gboolean vp_cli_one_file(const VpCommand *cmd, int argc, char **argv,
                         GError **error);

/* The commands, each in its cmd-*.c.  The libvirt ones are built into
 * virt-provision-libvirt only. */
int vp_cmd_provision(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_attach(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_import(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_apply(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_status(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_destroy(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_image(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_info(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_info_volume(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_check(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_convert_file(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_convert_domain(const VpCommand *cmd, int argc, char **argv);
