/* Test helper for seed_iso.py and bench/bench-cloud.py:
 *     seed-dump OPTIONS HOSTNAME INSTANCE_ID OUT.iso [REPEAT]
 * parses OPTIONS as the sub-options of --cloud-init, loads the seed and
 * writes its ISO image to OUT.iso.  A failure prints the message on one
 * line of stderr and exits 2 for bad input, 1 otherwise, as the tool.
 * With REPEAT, loads and builds the seed that many times first and prints
 * the mean seconds of one load + build on stdout: what a provision pays
 * for its seed, which it builds in process. */
#include <stdio.h>

#include <glib.h>

#include "error.h"
#include "seed.h"

int
main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: seed-dump OPTIONS HOSTNAME INSTANCE_ID OUT.iso "
                        "[REPEAT]\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    g_auto(VpSeedOptions) opts = { 0 };
    g_autoptr(VpSeed) seed = NULL;
    g_autoptr(GBytes) iso = NULL;
    guint64 repeat = 0;
    if (argc == 6 && !g_ascii_string_to_unsigned(argv[5], 10, 1, 1000000,
                                                 &repeat, NULL)) {
        fprintf(stderr, "seed-dump: REPEAT must be 1 to 1000000\n");
        return 2;
    }
    if (repeat > 0 && vp_seed_options_parse(argv[1], &opts, NULL)) {
        gint64 t0 = g_get_monotonic_time();
        for (guint64 i = 0; i < repeat; i++) {
            g_autoptr(VpSeed) s = vp_seed_load(&opts, argv[2], argv[3], NULL);
            g_autoptr(GBytes) b = s != NULL ? vp_seed_iso(s, NULL) : NULL;
            if (b == NULL) {
                break;
            }
        }
        printf("%.9f\n", (double)(g_get_monotonic_time() - t0) / 1e6 /
                             (double)repeat);
        vp_seed_options_clear(&opts);
    }
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
