/* The progress bar on stderr: bytes, rate and time left, drawn for long
 * work only, where someone watches a terminal. */
#include "progress-bar.h"

#include <unistd.h>

#include <glib/gi18n.h>

#include "global-options.h"
#include "size.h"

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
