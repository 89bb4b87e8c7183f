/* The command-line layer: option parsing, printing, exit codes.
 * Only this layer prints; everything below reports through GError. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "image-options.h"
#include "progress.h"
#include "run.h"
#include "qcow2-layout.h"

/* Exit codes of the design: 0 success, 1 the operation failed, 2 bad usage
 * or input.  `check` adds qemu-img check's 2 (corrupt) and 3 (leaks). */
enum {
    VP_EXIT_OK = 0,
    VP_EXIT_FAILED = 1,
    VP_EXIT_USAGE = 2,
    VP_EXIT_CHECK_CORRUPT = 2,
    VP_EXIT_CHECK_LEAKS = 3,
    VP_EXIT_CHECK_UNSUPPORTED = 63, /* qemu-img's "format has no checks" */
};

typedef struct {
    char *connect; /* -c/--connect URI */
    gboolean json;
    gboolean quiet;
    gboolean verbose;
} VpGlobalOptions;

extern VpGlobalOptions vp_global;

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

/* The exit code for ERROR: VP_EXIT_USAGE for G_OPTION_ERROR and
 * VP_ERROR_INVALID, 128 + the signal for VP_ERROR_CANCELLED, else
 * VP_EXIT_FAILED. */
int vp_cli_exit_code(const GError *error);

/* Prints ERROR as one line on stderr and returns its exit code.  Takes
 * ownership of ERROR.  An interrupted run gets 1 here; main() then dies of
 * the signal (vp_interrupt_exit). */
int vp_cli_fail(GError *error);

/* Names the command-line option a VP_OPTION_ERROR is about in ERROR's
 * message ("--cluster-size: invalid cluster size 3000 ..."); other errors
 * are left as they are.  vp_cli_fail calls it. */
void vp_cli_name_option(GError *error);

/* Puts OPTION in front of ERROR's message, in the same form: for errors of
 * the core about an option's value (a seed file of --cloud-init). */
void vp_cli_label_error(GError *error, const char *option);

/* Adds "use --force to replace it" to a VP_ERROR_EXISTS about the file
 * PATH (not a directory), for the commands that have --force. */
void vp_cli_hint_force(GError *error, const char *path);

/* Prints ROOT as the single JSON document on stdout.  Takes ownership. */
void vp_cli_print_json(JsonNode *root);

/* The DISK options shared by every command that creates an image. */
typedef struct {
    char *format;
    char *preallocation;
    char *cluster_size;
    char *compat;
    char *refcount_bits;
    gboolean lazy_refcounts;
    gboolean extended_l2;
    char *backing;
    char *backing_format;
} VpDiskArgs;

/* Option entries writing into ARGS; valid while ARGS lives.  Caller frees
 * the returned array (not the strings in it). */
GOptionEntry *vp_disk_option_entries(VpDiskArgs *args);

/* Turns the parsed text into OPTS (SIZE is set by the caller).  Fails with
 * VP_ERROR_INVALID naming the option. */
gboolean vp_disk_args_resolve(const VpDiskArgs *args, VpImageOptions *opts,
                              GError **error);
void vp_disk_args_clear(VpDiskArgs *args);

/* The URI a command that talks to one libvirt host connects to into *URI:
 * --connect (vp_cli_parse checked it), else LIBVIRT_DEFAULT_URI when set
 * and not empty, else NULL (libvirt's own default).  Fails with
 * VP_ERROR_INVALID, naming the variable, when LIBVIRT_DEFAULT_URI would
 * run a local command (uri.h).  *URI is borrowed. */
gboolean vp_cli_connect_uri(const char **uri, GError **error);

/* Fills RUN from the global options: the URI (vp_cli_connect_uri, whose
 * error it returns), --verbose, a progress bar labelled LABEL (see
 * vp_cli_progress) and the cancel that Ctrl-C and SIGTERM fire, whose
 * handlers it installs.  Every single-host libvirt command starts its
 * workflow this way. */
gboolean vp_cli_run_env(VpRunEnv *run, const char *label, GError **error);

/* A progress bar on stderr for long work: bytes, rate and time left.
 * Returns NULL (no bar) unless stderr is a terminal and neither --quiet nor
 * --json was given; the bar appears only once the work has taken a moment.
 * LABEL says what is going on ("writing"); borrowed. */
const VpProgress *vp_cli_progress(const char *label);

/* What `image` prints about a file it wrote (convert prints the same). */
JsonNode *vp_image_report_json(const char *path,
                               const VpQcow2Layout *layout,
                               guint64 actual);
void vp_image_report_human(const char *path,
                           const VpQcow2Layout *layout, guint64 actual);

/* convert's options, shared by the offline form (FILE to FILE, in this
 * program) and the domain form (virt-provision-libvirt). */
typedef struct {
    VpDiskArgs disk;
    char *source_format;
    gboolean force;
    char *domain;
    char *target;
    char *pool;
    gboolean keep_source;
    gboolean delete_source;
    gboolean print_diff;
} VpConvertArgs;

/* Option entries writing into ARGS (DISK options come separately from
 * vp_disk_option_entries).  Caller frees the array. */
GOptionEntry *vp_convert_option_entries(VpConvertArgs *args);
void vp_convert_args_clear(VpConvertArgs *args);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpConvertArgs, vp_convert_args_clear)

int vp_cmd_convert_file(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_convert_domain(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_provision(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_info_volume(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_attach(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_import(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_apply(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_status(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_destroy(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_image(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_info(const VpCommand *cmd, int argc, char **argv);
int vp_cmd_check(const VpCommand *cmd, int argc, char **argv);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpDiskArgs, vp_disk_args_clear)

/* An image file opened for reading by info and check. */
typedef struct {
    int fd;
    guint64 length;      /* bytes */
    guint64 allocated;   /* bytes on disk (st_blocks * 512) */
    struct VpQcow2Image *img; /* NULL when the file is not qcow2 */
} VpImageFile;

/* Opens PATH read-only; IMG is set when it carries the qcow2 magic and
 * opens cleanly.  Errors name PATH. */
gboolean vp_image_file_open(const char *path, VpImageFile *file,
                            GError **error);
/* The same for an open descriptor FD (taken over), NAME for messages. */
gboolean vp_image_file_open_fd(int fd, const char *name, VpImageFile *file,
                               GError **error);

/* Prints what info prints about FILE (opened), named NAME; exit code. */
int vp_info_report(const char *name, VpImageFile *file);
void vp_image_file_clear(VpImageFile *file);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpImageFile, vp_image_file_clear)

/* Exactly one positional FILE after parsing, else a usage error. */
gboolean vp_cli_one_file(const VpCommand *cmd, int argc, char **argv,
                         GError **error);

void vp_json_add_int(JsonBuilder *b, const char *name, guint64 value);
/* A NULL VALUE is written as null (json-glib's own rule). */
void vp_json_add_string(JsonBuilder *b, const char *name, const char *value);
void vp_json_add_bool(JsonBuilder *b, const char *name, gboolean value);
