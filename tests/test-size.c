/* Size parsing: a table of accepted and rejected strings. */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "size.h"

typedef struct {
    const char *text;
    guint64 bytes;
} VpSizeCase;

static const VpSizeCase accepted[] = {
    { "0", 0 },
    { "512", 512 },
    { "1B", 1 },
    { "1k", 1024 },
    { "64K", 65536 },
    { "64KiB", 65536 },
    { "64kib", 65536 },
    { "1M", 1048576 },
    { "20G", G_GUINT64_CONSTANT(21474836480) },
    { "20GiB", G_GUINT64_CONSTANT(21474836480) },
    { "20GB", G_GUINT64_CONSTANT(20000000000) },
    { "1.5T", G_GUINT64_CONSTANT(1649267441664) },
    { "0.5K", 512 },
    { "1.1K", 1127 }, /* 1126.4 rounded up */
    { "1T", G_GUINT64_CONSTANT(1099511627776) },
    { "4P", G_GUINT64_CONSTANT(4503599627370496) },
    { "15E", G_GUINT64_CONSTANT(17293822569102704640) },
    { "18446744073709551615", G_MAXUINT64 },
    { "1KB", 1000 },
    { "3MB", 3000000 },
};

static const char *const rejected[] = {
    "", "-1", "+1", "20X", "1e3", "0x10", " 1G", "1G ", "1.5", "1.",
    ".", "K", "1GG", "1 G", "99999E", "16E", "18446744073709551616",
    "1.5B", "1,5G", "१२",
};

static void
test_accepted(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_autoptr(GError) error = NULL;
        guint64 bytes = 1;
        gboolean ok = vp_size_parse(accepted[i].text, "--size", &bytes, &error);
        g_test_message("accept '%s'", accepted[i].text);
        g_assert_no_error(error);
        g_assert_true(ok);
        g_assert_cmpuint(bytes, ==, accepted[i].bytes);
    }
}

static void
test_rejected(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(rejected); i++) {
        g_autoptr(GError) error = NULL;
        guint64 bytes = 7;
        gboolean ok = vp_size_parse(rejected[i], "--size", &bytes, &error);
        g_test_message("reject '%s'", rejected[i]);
        g_assert_false(ok);
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        /* The message names the option and the text, on one line. */
        g_assert_nonnull(strstr(error->message, "--size"));
        g_assert_nonnull(strstr(error->message, rejected[i]));
        g_assert_null(strchr(error->message, '\n'));
        g_assert_cmpuint(bytes, ==, 7);
    }
}

static void
test_format(void)
{
    static const struct {
        guint64 bytes;
        const char *text;
    } cases[] = {
        { 0, "0 bytes" },
        { 1, "1 byte" },
        { 512, "512 bytes" },
        { 65536, "64 KiB" },
        { G_GUINT64_CONSTANT(21474836480), "20 GiB" },
        { G_GUINT64_CONSTANT(1649267441664), "1.5 TiB" },
        { G_MAXUINT64, "16.0 EiB" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = vp_size_format(cases[i].bytes);
        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

int
main(int argc, char **argv)
{
    g_setenv("LC_ALL", "C", TRUE);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/size/parse/accepted", test_accepted);
    g_test_add_func("/size/parse/rejected", test_rejected);
    g_test_add_func("/size/format", test_format);
    return g_test_run();
}
