/* Subnets, MACs and addresses of a lab's guests (lab-net.h). */
#include "lab-net.h"

#include <string.h>

gboolean
vp_ipv4_parse(const char *text, guint32 *addr)
{
    guint32 value = 0;
    const char *p = text;

    for (int part = 0; part < 4; part++) {
        if (!g_ascii_isdigit(*p) || (p[0] == '0' && g_ascii_isdigit(p[1]))) {
            return FALSE;
        }
        guint n = 0;
        int digits = 0;
        while (g_ascii_isdigit(*p) && digits < 4) {
            n = n * 10 + (guint)(*p - '0');
            p++;
            digits++;
        }
        if (n > 255 || digits > 3) {
            return FALSE;
        }
        value = value << 8 | n;
        if (part < 3 && *p++ != '.') {
            return FALSE;
        }
    }
    if (*p != '\0') {
        return FALSE;
    }
    *addr = value;
    return TRUE;
}

char *
vp_ipv4_format(guint32 a)
{
    return g_strdup_printf("%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
                           (a >> 8) & 255, a & 255);
}

static guint32
vp_ipv4_mask(guint prefix)
{
    return prefix == 0 ? 0 : G_MAXUINT32 << (32 - prefix);
}

VpIpv4Net
vp_ipv4_net_of(guint32 addr, guint prefix)
{
    return (VpIpv4Net){ .addr = addr & vp_ipv4_mask(prefix), .prefix = prefix };
}

gboolean
vp_ipv4_net_parse(const char *text, VpIpv4Net *net)
{
    const char *slash = strchr(text, '/');
    guint64 prefix;
    guint32 addr;

    if (slash == NULL) {
        return FALSE;
    }
    g_autofree char *host = g_strndup(text, (gsize)(slash - text));
    /* Decimal only, no sign, no leading zero: as the address parts. */
    if (!vp_ipv4_parse(host, &addr) || !g_ascii_isdigit(slash[1]) ||
        (slash[1] == '0' && slash[2] != '\0') ||
        !g_ascii_string_to_unsigned(slash + 1, 10, 0, 32, &prefix, NULL)) {
        return FALSE;
    }
    /* 10.88.1.0/16 is a typo for one of two things: refused, not guessed. */
    if ((addr & ~vp_ipv4_mask((guint)prefix)) != 0) {
        return FALSE;
    }
    *net = (VpIpv4Net){ .addr = addr, .prefix = (guint)prefix };
    return TRUE;
}

gboolean
vp_ipv4_net_contains(const VpIpv4Net *net, guint32 addr)
{
    return (addr & vp_ipv4_mask(net->prefix)) == net->addr;
}

gboolean
vp_ipv4_net_overlaps(const VpIpv4Net *a, const VpIpv4Net *b)
{
    /* Two prefixes overlap exactly when the shorter contains the other. */
    guint prefix = MIN(a->prefix, b->prefix);
    return (a->addr & vp_ipv4_mask(prefix)) == (b->addr & vp_ipv4_mask(prefix));
}

gboolean
vp_lab_host_subnet(const VpIpv4Net *cidr, guint index, VpIpv4Net *out)
{
    if (cidr->prefix > 24) {
        return FALSE;
    }
    guint64 count = G_GUINT64_CONSTANT(1) << (24 - cidr->prefix);
    if (index >= count) {
        return FALSE;
    }
    *out = (VpIpv4Net){ .addr = cidr->addr + ((guint32)index << 8), .prefix = 24 };
    return TRUE;
}

/* The first four bytes of SHA-256 over the parts, each followed by a NUL
 * so that ("ab", "c") and ("a", "bc") differ, and the two numbers. */
static guint32
vp_lab_digest(const char *lab, const char *guest, guint nic, guint attempt,
              guint8 out[32])
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 numbers[8];
    gsize len = 32;

    g_checksum_update(sum, (const guchar *)lab, (gssize)strlen(lab) + 1);
    g_checksum_update(sum, (const guchar *)guest, (gssize)strlen(guest) + 1);
    /* Big-endian, so that the digest is the same on every host. */
    for (int i = 0; i < 4; i++) {
        numbers[i] = (guint8)(nic >> (24 - 8 * i));
        numbers[4 + i] = (guint8)(attempt >> (24 - 8 * i));
    }
    g_checksum_update(sum, numbers, sizeof(numbers));
    g_checksum_get_digest(sum, out, &len);
    return (guint32)out[0] << 24 | (guint32)out[1] << 16 |
           (guint32)out[2] << 8 | out[3];
}

char *
vp_lab_mac(const char *lab, const char *guest, guint nic, guint attempt)
{
    guint8 d[32];

    vp_lab_digest(lab, guest, nic, attempt, d);
    return g_strdup_printf("52:54:00:%02x:%02x:%02x", d[0], d[1], d[2]);
}

char *
vp_lab_pick_mac(const char *lab, const char *guest, guint nic, GHashTable *taken)
{
    for (guint attempt = 0; attempt < 64; attempt++) {
        char *mac = vp_lab_mac(lab, guest, nic, attempt);
        if (taken == NULL || !g_hash_table_contains(taken, mac)) {
            return mac;
        }
        g_free(mac);
    }
    return NULL;
}

gboolean
vp_lab_pick_address(const char *lab, const char *guest, guint nic,
                    guint32 first, guint32 last, GHashTable *taken,
                    guint32 *out)
{
    guint8 d[32];
    g_assert(first <= last);
    guint64 span = (guint64)last - first + 1;
    guint64 start = vp_lab_digest(lab, guest, nic, 0, d) % span;

    /* Linear probing: a guest keeps its address as long as nothing took it
     * first, and a full range is found in one pass. */
    for (guint64 i = 0; i < span; i++) {
        guint32 a = first + (guint32)((start + i) % span);
        if (taken == NULL || !g_hash_table_contains(taken, GUINT_TO_POINTER(a))) {
            *out = a;
            return TRUE;
        }
    }
    return FALSE;
}
