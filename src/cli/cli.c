/* What every command shares: option parsing with the global options,
 * blank-value refusal, the mapping of errors to exit codes, the disk options,
 * the progress bar, opening an image file, and JSON helpers. This is the only
 * layer that prints or chooses an exit status (style rule 4): everything below
 * hands up a GError. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "error.h"
#include "interrupt.h"
#include "qcow2-reader.h"
#include "size.h"
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

/* A value for each option that takes one, for the message that asks for
 * it: no option's value may be empty.  Values, not words: untranslated. */
static const struct {
    const char *option;
    const char *example;
} vp_option_examples[] = {
    { "arch", "x86_64" },           { "backing", "base.qcow2" },
    { "base", "debian-12.qcow2" },
    { "backing-format", "qcow2" },  { "cache", "none" },
    { "cdrom", "debian.iso" },      { "cluster-size", "64K" },
    { "cmdline", "console=ttyS0" }, { "compat", "1.1" },
    { "connect", "qemu:///system" }, { "discard", "unmap" },
    { "disk", "vda" },              { "disk-bus", "virtio" },
    { "domain", "web1" },           { "format", "qcow2" },
    { "graphics", "vnc" },          { "initrd", "initrd.img" },
    { "io", "native" },             { "kernel", "vmlinuz" },
    { "machine", "q35" },           { "memory", "4G" },
    { "name", "zabbix" },           { "network", "network=default" },
    { "pool", "default" },          { "preallocation", "metadata" },
    { "refcount-bits", "16" },      { "size", "20G" },
    { "source-format", "raw" },     { "target", "vdb" },
    { "vcpus", "2" },               { "virt-type", "kvm" },
    { "volume", "disk.qcow2" },
};

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
             * to refuse. */
            if ((e->arg != G_OPTION_ARG_STRING && e->arg != G_OPTION_ARG_FILENAME) ||
                !vp_is_blank(*(char **)e->arg_data)) {
                continue;
            }
            for (gsize i = 0; i < G_N_ELEMENTS(vp_option_examples); i++) {
                if (g_str_equal(vp_option_examples[i].option, e->long_name)) {
                    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                                _("--%1$s needs a value, such as --%1$s %2$s"),
                                e->long_name, vp_option_examples[i].example);
                    return FALSE;
                }
            }
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        _("--%1$s needs a value; see 'virt-provision %2$s "
                          "--help'"), e->long_name, cmd->name);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vp_cli_parse(const VpCommand *cmd, int *argc, char ***argv, GError **error,
             const GOptionEntry *entries, ...)
{
    /* The command word was taken out of argv by main(): it is put back in the
     * usage line so that --help shows how the command is really typed. */
    g_autofree char *params = g_strdup_printf("%s %s", cmd->name,
                                            cmd->params[0] != '\0' ? _(cmd->params) : "");
    g_autoptr(GOptionContext) ctx = g_option_context_new(params);
    g_autoptr(GPtrArray) tables = g_ptr_array_new();
    va_list ap;

    g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
    g_option_context_set_summary(ctx, _(cmd->summary));
    if (cmd->description != NULL) {
        g_option_context_set_description(ctx, _(cmd->description));
    }
    va_start(ap, entries);
    for (const GOptionEntry *e = entries; e != NULL;
         e = va_arg(ap, const GOptionEntry *)) {
        g_ptr_array_add(tables, (gpointer)e);
    }
    va_end(ap);
    /* The global options go into every command's table, so that they may be
     * given before or after the command word alike. */
    g_ptr_array_add(tables, (gpointer)vp_global_entries);
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

int
/* Usage (2) for whatever the user can fix by typing something else: GOption's
 * own errors, the core's option errors, and VP_ERROR_INVALID; everything else,
 * including a refusing or unreachable daemon, is 1. */
vp_cli_exit_code(const GError *error)
{
    if (error->domain == G_OPTION_ERROR || error->domain == VP_OPTION_ERROR ||
        (error->domain == VP_ERROR && error->code == VP_ERROR_INVALID)) {
        return VP_EXIT_USAGE;
    }
    return VP_EXIT_FAILED;
}

/* TEXT with its control characters written as escapes (\n, \t, \xHH):
 * a message quotes what the user wrote, and a newline or an escape sequence
 * in a name must neither split the one-line error nor reach the terminal.
 * Other UTF-8 is kept as it is, translations included. */
static char *
vp_cli_one_line(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '\n') {
            g_string_append(out, "\\n");
        } else if (*p == '\t') {
            g_string_append(out, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            g_string_append_printf(out, "\\x%02x", *p);
        } else {
            g_string_append_c(out, (char)*p);
        }
    }
    return g_string_free(out, FALSE);
}

int
vp_cli_fail(GError *error)
{
    int code = vp_cli_exit_code(error);

    /* Before the print: the core's messages speak of "cluster size", the user
     * typed --cluster-size. */
    vp_cli_name_option(error);
    g_autofree char *line = vp_cli_one_line(error->message);
    g_printerr("%s: %s\n", g_get_prgname(), line);
    g_error_free(error);
    return code;
}

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

GOptionEntry *
vp_disk_option_entries(VpDiskArgs *args)
{
    const GOptionEntry entries[] = {
        { "format", 0, 0, G_OPTION_ARG_STRING, &args->format,
          N_("Image format: qcow2 (default) or raw"), N_("FORMAT") },
        { "preallocation", 0, 0, G_OPTION_ARG_STRING, &args->preallocation,
          N_("off, metadata (default for qcow2), falloc or full"), N_("MODE") },
        { "cluster-size", 0, 0, G_OPTION_ARG_STRING, &args->cluster_size,
          N_("qcow2 cluster size, 512 to 2M (default 64K)"), N_("SIZE") },
        { "compat", 0, 0, G_OPTION_ARG_STRING, &args->compat,
          N_("qcow2 compatibility level: 0.10 or 1.1 (default)"), N_("LEVEL") },
        { "refcount-bits", 0, 0, G_OPTION_ARG_STRING, &args->refcount_bits,
          N_("Refcount width: 1, 2, 4, 8, 16 (default), 32 or 64"), N_("BITS") },
        { "lazy-refcounts", 0, 0, G_OPTION_ARG_NONE, &args->lazy_refcounts,
          N_("Set the lazy refcounts feature"), NULL },
        { "extended-l2", 0, 0, G_OPTION_ARG_NONE, &args->extended_l2,
          N_("Use extended L2 entries with 32 subclusters"), NULL },
        { "backing", 0, 0, G_OPTION_ARG_FILENAME, &args->backing,
          N_("Backing file of the new image"), N_("FILE") },
        { "backing-format", 0, 0, G_OPTION_ARG_STRING, &args->backing_format,
          N_("Format of the backing file (never guessed)"), N_("FORMAT") },
        G_OPTION_ENTRY_NULL,
    };
    /* A copy on the heap: the table points into ARGS, which the caller owns,
     * so it cannot be static, and it must outlive this frame. */
    return g_memdup2(entries, sizeof(entries));
}

static gboolean
/* Refused rather than ignored: a user who asked for, say, a cluster size on a
 * raw image expects it to mean something. */
vp_disk_refuse_for_raw(const VpDiskArgs *args, GError **error)
{
    const char *what = NULL;

    if (args->cluster_size != NULL) {
        what = "--cluster-size";
    } else if (args->compat != NULL) {
        what = "--compat";
    } else if (args->refcount_bits != NULL) {
        what = "--refcount-bits";
    } else if (args->lazy_refcounts) {
        what = "--lazy-refcounts";
    } else if (args->extended_l2) {
        what = "--extended-l2";
    }
    if (what != NULL) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("%1$s applies to qcow2 images only; drop it or use "
                      "--format qcow2"), what);
        return FALSE;
    }
    return TRUE;
}

gboolean
vp_disk_args_resolve(const VpDiskArgs *args, VpImageOptions *opts,
                     GError **error)
{
    guint64 value;

    if (args->format != NULL &&
        !vp_image_format_from_string(args->format, &opts->format)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --format '%1$s': use qcow2 or raw"),
                    args->format);
        return FALSE;
    }
    if (opts->format == VP_FORMAT_RAW) {
        /* A raw file has no metadata: sparse unless asked otherwise. */
        opts->preallocation = VP_PREALLOC_OFF;
        if (!vp_disk_refuse_for_raw(args, error)) {
            return FALSE;
        }
    }
    /* As qemu-img: an overlay starts empty, so that reads fall through to
     * its backing file; preallocation there needs --extended-l2 and asking. */
    /* Only a default: an explicit --preallocation with --backing is still
     * taken and left for the layout to accept or refuse. */
    if (args->backing != NULL && args->preallocation == NULL) {
        opts->preallocation = VP_PREALLOC_OFF;
    }
    if (args->preallocation != NULL &&
        !vp_preallocation_from_string(args->preallocation,
                                      &opts->preallocation)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --preallocation '%1$s': use off, metadata, "
                      "falloc or full"), args->preallocation);
        return FALSE;
    }
    if (args->cluster_size != NULL) {
        if (!vp_size_parse(args->cluster_size, "--cluster-size", &value,
                           error)) {
            return FALSE;
        }
        /* The layout checks the power of two and the range; only what cannot
         * fit the field is refused here. */
        if (value > G_MAXUINT32) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("invalid --cluster-size '%1$s': use a power of two "
                          "from 512 bytes to 2M, such as 64K"),
                        args->cluster_size);
            return FALSE;
        }
        opts->cluster_size = (guint32)value;
    }
    if (args->compat != NULL &&
        !vp_compat_from_string(args->compat, &opts->version)) {
        g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                    _("invalid --compat '%1$s': use 0.10 or 1.1"), args->compat);
        return FALSE;
    }
    if (args->refcount_bits != NULL) {
        if (!g_ascii_string_to_unsigned(args->refcount_bits, 10, 1, 64, &value,
                                        NULL) ||
            (value & (value - 1)) != 0) {
            g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                        _("invalid --refcount-bits '%1$s': use 1, 2, 4, 8, 16, "
                          "32 or 64"), args->refcount_bits);
            return FALSE;
        }
        opts->refcount_bits = (guint32)value;
    }
    /* Whether the combination is valid is for vp_qcow2_layout_compute() to
     * decide: one check, whichever command builds the options. */
    opts->lazy_refcounts = args->lazy_refcounts;
    opts->extended_l2 = args->extended_l2;
    opts->backing_file = args->backing;
    opts->backing_format = args->backing_format;
    return TRUE;
}

void
vp_disk_args_clear(VpDiskArgs *args)
{
    g_free(args->format);
    g_free(args->preallocation);
    g_free(args->cluster_size);
    g_free(args->compat);
    g_free(args->refcount_bits);
    g_free(args->backing);
    g_free(args->backing_format);
    *args = (VpDiskArgs){ 0 };
}

typedef struct {
    VpProgress progress;
    const char *label;
    gint64 start;  /* monotonic, microseconds */
    gint64 last;
    gboolean drawn;
} VpProgressBar;

/* Hours only when needed: most runs take seconds. */
/* Seconds as "1:05" or "1:02:03". */
static char *
vp_clock(guint64 seconds)
{
    if (seconds >= 3600) {
        return g_strdup_printf("%" G_GUINT64_FORMAT ":%02u:%02u", seconds / 3600,
                               (guint)(seconds / 60 % 60), (guint)(seconds % 60));
    }
    return g_strdup_printf("%u:%02u", (guint)(seconds / 60), (guint)(seconds % 60));
}

static void
vp_progress_draw(guint64 done, guint64 total, gpointer user)
{
    VpProgressBar *bar = user;
    gint64 now = g_get_monotonic_time();
    gboolean finished = done >= total;
    /* Microseconds of work before the bar appears: half a second, or
     * VIRT_PROVISION_PROGRESS_DELAY_MS, so that tests need not make work
     * that outlasts the default on any machine. */
    static gint64 delay = -1;

    if (delay < 0) {
        const char *text = g_getenv("VIRT_PROVISION_PROGRESS_DELAY_MS");
        guint64 ms;
        delay = text != NULL && g_ascii_string_to_unsigned(text, 10, 0, 60000,
                                                           &ms, NULL)
                    ? (gint64)ms * 1000
                    : 500000;
    }
    /* Quick work shows no bar at all; long work redraws ten times a
     * second. */
    if (!finished && (now - bar->start < delay || now - bar->last < 100000)) {
        return;
    }
    /* A run too quick to have drawn anything leaves stderr untouched. */
    if (finished && !bar->drawn) {
        return;
    }
    bar->last = now;
    bar->drawn = TRUE;
    double elapsed = (double)(now - bar->start) / 1e6;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    guint percent = total > 0 ? (guint)(100.0 * (double)done / (double)total) : 100;
    char cells[21];
    guint filled = percent / 5;
    for (guint i = 0; i < 20; i++) {
        cells[i] = i < filled ? '#' : '.';
    }
    cells[20] = '\0';
    g_autofree char *done_text = vp_size_format(done);
    g_autofree char *total_text = vp_size_format(total);
    g_autofree char *rate_text = vp_size_format((guint64)rate);
    g_autofree char *left = rate > 0 ? vp_clock((guint64)((double)(total - done) / rate))
                                     : g_strdup("?");
    g_autofree char *took = vp_clock((guint64)elapsed);
    /* TRANSLATORS: progress bar: label, bar, percent, done, total, rate per
     * second, time left (or taken); keep it under 75 columns. */
    g_printerr("\r");
    g_printerr(finished ? _("%1$s [%2$s] %3$3u%% %4$s/%5$s %6$s/s, took %7$s")
                        : _("%1$s [%2$s] %3$3u%% %4$s/%5$s %6$s/s, %7$s left"),
               bar->label, cells, percent, done_text, total_text, rate_text,
               finished ? took : left);
    /* Clear what a longer previous line left. */
    g_printerr("\033[K%s", finished ? "\n" : "");
}

const VpProgress *
vp_cli_progress(const char *label)
{
    /* Static: there is one bar at a time, and the emitter keeps the pointer
     * for as long as the copy runs. */
    static VpProgressBar bar;

    /* No bar where nobody watches a terminal, and none to garble --json or
     * --quiet output. */
    if (vp_global.quiet || vp_global.json || !isatty(STDERR_FILENO)) {
        return NULL;
    }
    bar = (VpProgressBar){
        .progress = { vp_progress_draw, &bar },
        .label = label,
        .start = g_get_monotonic_time(),
    };
    return &bar.progress;
}

gboolean
vp_image_file_open_fd(int fd, const char *name, VpImageFile *file,
                      GError **error)
{
    struct stat st;
    gboolean is_qcow2 = FALSE;

    *file = (VpImageFile){ .fd = fd };
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("'%1$s' is a directory, not an image file"), name);
        return FALSE;
    }
    /* A block device has no size in st_size and no holes: its length is where
     * a seek to the end lands; its allocation is left at 0. */
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        file->length = end > 0 ? (guint64)end : 0;
    } else {
        file->length = (guint64)st.st_size;
        file->allocated = (guint64)st.st_blocks * 512;
    }
    /* The tool's own probe: an image's format is never taken from its name. */
    if (!vp_qcow2_probe(vp_read_fd, GINT_TO_POINTER(fd), &is_qcow2, error)) {
        return FALSE;
    }
    if (is_qcow2) {
        file->img = vp_qcow2_image_open(vp_read_fd, GINT_TO_POINTER(fd),
                                        file->length, name, error);
        return file->img != NULL;
    }
    return TRUE;
}

gboolean
vp_image_file_open(const char *path, VpImageFile *file, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        *file = (VpImageFile){ .fd = -1 };
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot open '%1$s': %2$s"), path, g_strerror(errno));
        return FALSE;
    }
    return vp_image_file_open_fd(fd, path, file, error);
}

void
vp_image_file_clear(VpImageFile *file)
{
    g_clear_pointer(&file->img, vp_qcow2_image_free);
    if (file->fd >= 0) {
        close(file->fd);
    }
    file->fd = -1;
}

gboolean
/* ARGV[0] is the program; the file is the one argument left after GOption took
 * the options. */
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

gboolean
vp_cli_connect_uri(const char **uri, GError **error)
{
    /* libvirt would read the variable itself; reading it here means that
     * the URI checked is the one used. */
    const char *env = g_getenv("LIBVIRT_DEFAULT_URI");
    *uri = vp_global.connect;
    if (*uri == NULL && env != NULL && *env != '\0') {
        if (!vp_uri_check(env, error)) {
            vp_cli_label_error(*error, "LIBVIRT_DEFAULT_URI");
            return FALSE;
        }
        *uri = env;
    }
    return TRUE;
}

gboolean
vp_cli_run_env(VpRunEnv *run, const char *label, GError **error)
{
    if (!vp_cli_connect_uri(&run->uri, error)) {
        return FALSE;
    }
    run->verbose = vp_global.verbose;
    run->progress = vp_cli_progress(label);
    run->cancel = vp_interrupt_cancel();
    vp_interrupt_install();
    return TRUE;
}
