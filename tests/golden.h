/* Golden files for the unit tests, in tests/data/ (VP_TEST_DATA at build
 * time, overridable with the environment variable of the same name).
 *
 * Regenerate after an intended change with VP_REGENERATE_GOLDEN=1 and
 * review the change with git diff.  A regenerating run rewrites every file
 * and then fails (vp_golden_run), so that a run with the variable set, in
 * CI say, can never pass without comparing anything.  Header-only: each
 * test program includes it once and runs its tests with vp_golden_run. */
#pragma once

#include <glib.h>

/* Golden files rewritten by this run. */
static guint vp_golden_rewritten;

static inline const char *
vp_golden_dir(void)
{
    const char *dir = g_getenv("VP_TEST_DATA");
    return dir != NULL ? dir : VP_TEST_DATA;
}

/* The contents of data file NAME; caller frees. */
static inline char *
vp_golden_read(const char *name)
{
    g_autofree char *path = g_build_filename(vp_golden_dir(), name, NULL);
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    return text;
}

/* TEXT must equal golden file NAME.  When regenerating, replaces the file
 * with TEXT instead and counts it; the test goes on (a failed test would
 * stop the program), so that one run rewrites every file. */
static inline void
vp_golden_check(const char *name, const char *text)
{
    if (g_getenv("VP_REGENERATE_GOLDEN") != NULL) {
        g_autofree char *path = g_build_filename(vp_golden_dir(), name, NULL);
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_test_message("rewrote %s", path);
        vp_golden_rewritten++;
        return;
    }
    g_autofree char *expected = vp_golden_read(name);
    g_assert_cmpstr(text, ==, expected);
}

/* g_test_run(), but failing when golden files were rewritten rather than
 * compared.  Returns the program's exit status. */
static inline int
vp_golden_run(void)
{
    int status = g_test_run();

    if (vp_golden_rewritten > 0) {
        g_printerr("# FAIL: VP_REGENERATE_GOLDEN is set: %u golden files in "
                   "%s were rewritten, not compared; review them with git "
                   "diff, then run again without the variable\n",
                   vp_golden_rewritten, vp_golden_dir());
        return 1;
    }
    return status;
}
