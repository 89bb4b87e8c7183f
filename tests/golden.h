/* Golden files for the unit tests, in tests/data/ (VP_TEST_DATA at build
 * time, overridable with the environment variable of the same name).
 *
 * Regenerate after an intended change with VP_REGENERATE_GOLDEN=1 and
 * review the change with git diff; CI never sets the variable.  Header-only:
 * each test program includes it once. */
#pragma once

#include <glib.h>

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

/* TEXT must equal golden file NAME (or replaces it when regenerating). */
static inline void
vp_golden_check(const char *name, const char *text)
{
    if (g_getenv("VP_REGENERATE_GOLDEN") != NULL) {
        g_autofree char *path = g_build_filename(vp_golden_dir(), name, NULL);
        g_autoptr(GError) error = NULL;
        g_assert_true(g_file_set_contents(path, text, -1, &error));
        g_test_message("regenerated %s; review the change with git diff", path);
        return;
    }
    g_autofree char *expected = vp_golden_read(name);
    g_assert_cmpstr(text, ==, expected);
}
