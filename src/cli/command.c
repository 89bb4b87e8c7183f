/* The frame of every command: option parsing with the global options, the
 * refusal of blank values, and the check for a single FILE argument. */
#include "command.h"

#include <stdarg.h>

#include <glib/gi18n.h>

#include "error.h"
#include "global-options.h"
#include "option-hints.h"
#include "provision-options.h"
#include "uri.h"

/* Global because the options are parsed by each command's own context
 * (vp_cli_parse adds them to it), yet read wherever the commands print. */
VpGlobalOptions vp_global;

static const GOptionEntry vp_global_entries[] = {
    { "connect", 'c', 0, G_OPTION_ARG_STRING, &vp_global.connect,
      N_("libvirt URI to connect to (default: LIBVIRT_DEFAULT_URI, then "
         "libvirt's default)"), N_("URI") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &vp_global.json,
      N_("Print one JSON document on stdout"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &vp_global.quiet,
      N_("Print nothing but errors"), NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &vp_global.verbose,
      N_("Explain each step on stderr"), NULL },
    G_OPTION_ENTRY_NULL,
};

/* A value for each option of a command other than provision's (whose
 * examples are the option schema's), for the message that asks for one:
 * no option's value may be empty.  Values, not words: untranslated. */
static const struct {
    const char *option;
    const char *example;
} vp_option_examples[] = {
    { "connect", "qemu:///system" }, { "disk", "vda" },
    { "domain", "web1" },            { "source-format", "raw" },
    { "target", "vdb" },             { "volume", "disk.qcow2" },
};

/* The example value of the option NAME, or NULL. */
static const char *
vp_option_example(const char *name)
{
    const VpOptionInfo *info = vp_option_find(name);

    if (info != NULL) {
        return info->example;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(vp_option_examples); i++) {
        if (g_str_equal(vp_option_examples[i].option, name)) {
            return vp_option_examples[i].example;
        }
    }
    return NULL;
}

/* TRUE for a value given as "" or as white space only. */
static gboolean
vp_is_blank(const char *value)
{
    if (value == NULL) {
        return FALSE; /* not given */
    }
    while (g_ascii_isspace(*value)) {
        value++;
    }
    return *value == '\0';
}

/* An option given an empty or blank value is never what was meant (a
 * variable that expanded to nothing, a stray '='), and taken as it is it
 * would name a pool '' or a guest '  '.  One check here covers every
 * option of every command. */
static gboolean
vp_cli_check_values(const VpCommand *cmd, GPtrArray *tables, GError **error)
{
    for (guint t = 0; t < tables->len; t++) {
        for (const GOptionEntry *e = g_ptr_array_index(tables, t);
             e->long_name != NULL; e++) {
            /* Only string values can be blank; numbers and flags are GOption's
             * to refuse.  Each value of a repeated option counts. */
            gboolean blank = FALSE;
            if (e->arg == G_OPTION_ARG_STRING || e->arg == G_OPTION_ARG_FILENAME) {
                blank = vp_is_blank(*(char **)e->arg_data);
            } else if (e->arg == G_OPTION_ARG_STRING_ARRAY) {
                for (char **v = *(char ***)e->arg_data; v != NULL && *v != NULL;
                     v++) {
                    blank = blank || vp_is_blank(*v);
                }
            }
            if (!blank) {
                continue;
            }
            const char *example = vp_option_example(e->long_name);
            if (example != NULL) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            _("--%1$s needs a value, such as --%1$s %2$s"),
                            e->long_name, example);
                return FALSE;
            }
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        _("--%1$s needs a value; see 'virt-provision %2$s "
                          "--help'"), e->long_name, cmd->name);
            return FALSE;
        }
    }
    return TRUE;
}

/* The tables of a NULL-terminated argument list starting with FIRST, then
 * the global options: they go into every command's table, so that they may
 * be given before or after the command word alike. */
static GPtrArray *
vp_cli_tables(const GOptionEntry *first, va_list ap)
{
    GPtrArray *tables = g_ptr_array_new();

    for (const GOptionEntry *e = first; e != NULL;
         e = va_arg(ap, const GOptionEntry *)) {
        g_ptr_array_add(tables, (gpointer)e);
    }
    g_ptr_array_add(tables, (gpointer)vp_global_entries);
    return tables;
}

static gboolean
vp_cli_parse_tables(const VpCommand *cmd, gpointer data, int *argc,
                    char ***argv, GPtrArray *tables, GError **error)
{
    /* The command word was taken out of argv by main(): it is put back in the
     * usage line so that --help shows how the command is really typed. */
    g_autofree char *params = g_strdup_printf("%s %s", cmd->name,
                                            cmd->params[0] != '\0' ? _(cmd->params) : "");
    g_autoptr(GOptionContext) ctx = g_option_context_new(params);

    g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
    g_option_context_set_summary(ctx, _(cmd->summary));
    if (cmd->description != NULL) {
        g_option_context_set_description(ctx, _(cmd->description));
    }
    /* A main group of our own, only for its user data: GOption hands that
     * to the callbacks of the entries added to it below, and nothing else
     * tells a callback which struct it parses into. */
    g_option_context_set_main_group(ctx, g_option_group_new(NULL, NULL, NULL,
                                                            data, NULL));
    for (guint i = 0; i < tables->len; i++) {
        g_option_context_add_main_entries(ctx, g_ptr_array_index(tables, i),
                                          GETTEXT_PACKAGE);
    }
    if (!g_option_context_parse(ctx, argc, argv, error) ||
        !vp_cli_check_values(cmd, tables, error)) {
        return FALSE;
    }
    /* Every command, also one that would not connect: a URI that runs a
     * local command is refused wherever it is written (uri.h). */
    if (vp_global.connect != NULL && !vp_uri_check(vp_global.connect, error)) {
        vp_cli_label_error(*error, "--connect");
        return FALSE;
    }
    if (vp_global.json) {
        vp_global.quiet = TRUE; /* stdout holds the document alone */
    }
    return TRUE;
}

gboolean
vp_cli_parse(const VpCommand *cmd, int *argc, char ***argv, GError **error,
             const GOptionEntry *entries, ...)
{
    va_list ap;

    va_start(ap, entries);
    g_autoptr(GPtrArray) tables = vp_cli_tables(entries, ap);
    va_end(ap);
    return vp_cli_parse_tables(cmd, NULL, argc, argv, tables, error);
}

gboolean
vp_cli_parse_data(const VpCommand *cmd, gpointer data, int *argc,
                  char ***argv, GError **error, const GOptionEntry *entries,
                  ...)
{
    va_list ap;

    va_start(ap, entries);
    g_autoptr(GPtrArray) tables = vp_cli_tables(entries, ap);
    va_end(ap);
    return vp_cli_parse_tables(cmd, data, argc, argv, tables, error);
}

/* ARGV[0] is the program; the file is the one argument left after GOption took
 * the options. */
gboolean
vp_cli_one_file(const VpCommand *cmd, int argc, char **argv, GError **error)
{
    if (argc == 2) {
        return TRUE;
    }
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                argc < 2 ? _("%1$s needs a FILE; see 'virt-provision %1$s "
                             "--help'")
                         : _("%1$s takes exactly one FILE; see "
                             "'virt-provision %1$s --help'"),
                cmd->name);
    return FALSE;
}
