#include "size.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "error.h"

typedef struct {
    const char *unit;
    unsigned int exponent; /* of BASE */
    unsigned int base;
} VpSizeUnit;

/* Longest spellings first, so "KiB" is not read as "K" plus junk.  Bare K,
 * M, G are binary, as in qemu-img and virsh, whose users type them; KB, MB,
 * GB are decimal, as disks are sold. */
static const VpSizeUnit vp_size_units[] = {
    { "kib", 1, 1024 }, { "mib", 2, 1024 }, { "gib", 3, 1024 },
    { "tib", 4, 1024 }, { "pib", 5, 1024 }, { "eib", 6, 1024 },
    { "kb", 1, 1000 },  { "mb", 2, 1000 },  { "gb", 3, 1000 },
    { "tb", 4, 1000 },  { "pb", 5, 1000 },  { "eb", 6, 1000 },
    { "k", 1, 1024 },   { "m", 2, 1024 },   { "g", 3, 1024 },
    { "t", 4, 1024 },   { "p", 5, 1024 },   { "e", 6, 1024 },
    { "b", 0, 1 },      { "", 0, 1 },
};

static void
vp_size_set_invalid(GError **error, const char *what, const char *text)
{
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("invalid %1$s '%2$s': use a whole number of bytes or a "
                  "number with a unit such as 512K, 20G, 1.5T or 100GB"),
                what, text);
}

gboolean
vp_size_parse(const char *text, const char *what, guint64 *bytes,
              GError **error)
{
    const char *p = text;
    /* 128 bits: whole * unit and the scaled fraction stay exact past 2^64, so
     * "too large" is decided on the true value, never on a wrapped or rounded
     * one, and no floating point rounds a byte count. */
    unsigned __int128 whole = 0;
    unsigned __int128 frac = 0;
    unsigned __int128 frac_scale = 1;
    gboolean have_digits = FALSE;
    gboolean have_point = FALSE;

    /* Digits, then an optional fraction.  More than 19 fraction digits
     * cannot matter for a 64-bit result and would overflow the scale. */
    for (; g_ascii_isdigit(*p); p++) {
        whole = whole * 10 + (unsigned int)(*p - '0');
        have_digits = TRUE;
        if (whole > G_MAXUINT64) {
            goto too_large;
        }
    }
    if (*p == '.') {
        have_point = TRUE;
        for (p++; g_ascii_isdigit(*p); p++) {
            /* Digits past the scale are still accepted, just not counted. */
            if (frac_scale < (unsigned __int128)G_MAXUINT64) {
                frac = frac * 10 + (unsigned int)(*p - '0');
                frac_scale *= 10;
            }
            have_digits = TRUE;
        }
    }
    if (!have_digits) {
        vp_size_set_invalid(error, what, text);
        return FALSE;
    }

    const VpSizeUnit *unit = NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(vp_size_units); i++) {
        if (g_ascii_strcasecmp(p, vp_size_units[i].unit) == 0) {
            unit = &vp_size_units[i];
            break;
        }
    }
    /* A fraction of a byte count is a typo, not a request for rounding. */
    if (unit == NULL || (have_point && unit->exponent == 0)) {
        vp_size_set_invalid(error, what, text);
        return FALSE;
    }

    unsigned __int128 mult = 1;
    for (unsigned int i = 0; i < unit->exponent; i++) {
        mult *= unit->base;
    }
    /* whole <= 2^64 and mult <= 2^60, so the product fits in 128 bits. */
    unsigned __int128 value = whole * mult;
    if (frac != 0) {
        /* frac < frac_scale <= 10^20 and mult <= 2^60: fits in 128 bits. */
        value += (frac * mult + frac_scale - 1) / frac_scale;
    }
    if (value > G_MAXUINT64) {
        goto too_large;
    }
    *bytes = (guint64)value;
    return TRUE;

too_large:
    g_set_error(error, VP_ERROR, VP_ERROR_INVALID,
                _("%1$s '%2$s' is too large: the limit is 16 EiB"), what,
                text);
    return FALSE;
}

char *
vp_size_format(guint64 bytes)
{
    static const char *const names[] = {
        "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
    };

    if (bytes < 1024) {
        /* Plural forms from the catalogue: "1 byte", "2 bytes". */
        return g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "%" PRIu64
                                           " byte", "%" PRIu64
                                           " bytes", bytes), bytes);
    }
    unsigned int i = 0;
    guint64 div = 1024;
    while (i + 1 < G_N_ELEMENTS(names) && bytes / div >= 1024) {
        div *= 1024;
        i++;
    }
    /* Exact multiples without a decimal, so limits read "8 MiB", not "8.0
     * MiB". */
    if (bytes % div == 0) {
        return g_strdup_printf("%" G_GUINT64_FORMAT " %s", bytes / div,
                               names[i]);
    }
    return g_strdup_printf("%.1f %s", (double)bytes / (double)div, names[i]);
}
