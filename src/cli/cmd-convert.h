/* convert's options, shared by the offline form (FILE to FILE, cmd-convert.c,
 * in both programs) and the domain form (cmd-domain-ops.c, in
 * virt-provision-libvirt): one table, so that --help lists them all. */
#pragma once

#include <glib.h>

#include "disk-args.h"

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
