/* Test helper for seed_iso.py, until the command line has --cloud-init:
 *     seed-dump OPTIONS HOSTNAME INSTANCE_ID OUT.iso
 * parses OPTIONS as the sub-options of --cloud-init, loads the seed and
 * writes its ISO image to OUT.iso.  A failure prints the message on one
 * line of stderr and exits 2 for bad input, 1 otherwise, as the tool. */
#include <stdio.h>

#include <glib.h>

#include "error.h"
#include "seed.h"

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: seed-dump OPTIONS HOSTNAME INSTANCE_ID OUT.iso\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    g_auto(VpSeedOptions) opts = { 0 };
    g_autoptr(VpSeed) seed = NULL;
    g_autoptr(GBytes) iso = NULL;
    if (!vp_seed_options_parse(argv[1], &opts, &error) ||
        (seed = vp_seed_load(&opts, argv[2], argv[3], &error)) == NULL ||
        (iso = vp_seed_iso(seed, &error)) == NULL ||
        !g_file_set_contents(argv[4], g_bytes_get_data(iso, NULL),
                             (gssize)g_bytes_get_size(iso), &error)) {
        fprintf(stderr, "seed-dump: %s\n", error->message);
        return g_error_matches(error, VP_ERROR, VP_ERROR_INVALID) ? 2 : 1;
    }
    return 0;
}
