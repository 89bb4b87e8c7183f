/* A manifest's networks: (manifest.h, VpLabNetwork): each lab network's
 * cidr, mode and domain, checked against the hosts it will be carved for
 * and against the other lab networks; and a guest's network values that
 * name one by its key. */
#include "manifest-private.h"

#include <string.h>

#include <glib/gi18n.h>

static const char *const vp_net_keys[] = { "cidr", "mode", "domain", NULL };
static const char *const vp_net_modes[] = { "nat", "isolated", "route", NULL };

const char *
vp_lab_net_mode_to_string(VpLabNetMode mode)
{
    return vp_net_modes[mode];
}

void
vp_lab_network_free(gpointer data)
{
    VpLabNetwork *n = data;

    g_free(n->key);
    g_free(n->name);
    g_free(n->cidr_text);
    g_free(n->domain);
    g_free(n);
}

/* A DNS domain as dnsmasq serves it: dot-separated labels of letters,
 * digits and '-', 1 to 63 each, not starting or ending with '-', 253 in
 * all; lower case, since names resolve without regard to case. */
static gboolean
vp_domain_valid(const char *d)
{
    gsize len = strlen(d);

    if (len == 0 || len > 253) {
        return FALSE;
    }
    g_auto(GStrv) labels = g_strsplit(d, ".", -1);
    for (gsize i = 0; labels[i] != NULL; i++) {
        gsize l = strlen(labels[i]);
        if (l == 0 || l > 63 || labels[i][0] == '-' || labels[i][l - 1] == '-') {
            return FALSE;
        }
        for (gsize j = 0; j < l; j++) {
            char c = labels[i][j];
            if (!g_ascii_isdigit(c) && !(c >= 'a' && c <= 'z') && c != '-') {
                return FALSE;
            }
        }
    }
    return TRUE;
}

static gboolean
vp_parse_net_key(const VpLabCtx *ctx, const VpLab *lab, VpLabNetwork *n,
                 const VpYNode *k, const VpYNode *v, GError **error)
{
    if (g_str_equal(k->text, "cidr")) {
        if (!vp_expect_text(ctx, k, v, "10.88.0.0/16", error)) {
            return FALSE;
        }
        /* Each host of hosts: gets its /24, by its place in the list. */
        VpIpv4Net last;
        if (!vp_ipv4_net_parse(v->text, &n->cidr) || n->cidr.prefix > 24 ||
            !vp_lab_host_subnet(&n->cidr, lab->hosts->len - 1, &last)) {
            vp_lab_error(error, ctx, v->line, v->column,
                         _("invalid 'cidr' value '%1$s'; use an IPv4 network of at least one /24 per host (%2$u here) with its host bits zero, such as 10.88.0.0/16"),
                         v->text, lab->hosts->len);
            return FALSE;
        }
        n->cidr_text = g_strdup(v->text);
    } else if (g_str_equal(k->text, "mode")) {
        if (!vp_expect_text(ctx, k, v, "nat", error)) {
            return FALSE;
        }
        if (!g_strv_contains(vp_net_modes, v->text)) {
            vp_invalid_value(error, ctx, k, v, N_("nat, isolated or route"));
            return FALSE;
        }
        for (guint m = 0; vp_net_modes[m] != NULL; m++) {
            if (g_str_equal(vp_net_modes[m], v->text)) {
                n->mode = (VpLabNetMode)m;
            }
        }
    } else if (g_str_equal(k->text, "domain")) {
        if (!vp_expect_text(ctx, k, v, "ci-42.test", error)) {
            return FALSE;
        }
        if (!vp_domain_valid(v->text)) {
            vp_invalid_value(error, ctx, k, v,
                             N_("a DNS domain of lower-case letters, digits, '-' and '.', such as ci-42.test"));
            return FALSE;
        }
        n->domain = g_strdup(v->text);
    } else {
        const char *hint = vp_suggest(k->text, vp_net_keys, FALSE);
        if (hint != NULL) {
            vp_lab_error(error, ctx, k->line, k->column,
                         _("unknown key '%1$s'; did you mean '%2$s'?"),
                         k->text, hint);
        } else {
            vp_lab_error(error, ctx, k->line, k->column,
                         _("unknown key '%1$s' of a lab network; use cidr, mode and domain"),
                         k->text);
        }
        return FALSE;
    }
    return TRUE;
}

/* One network KEY: VALUE of networks:. */
static gboolean
vp_parse_network(const VpLabCtx *ctx, VpLab *lab, const VpYNode *k,
                 const VpYNode *v, GError **error)
{
    if (!vp_check_name(ctx, k, VP_NAME_NETWORK, error)) {
        return FALSE;
    }
    if (v->kind != VP_Y_MAPPING) {
        vp_lab_error(error, ctx, v->line, v->column,
                     _("lab network '%1$s' is a mapping of cidr, mode and domain; write it as '%1$s: {cidr: 10.88.0.0/16}'"),
                     k->text);
        return FALSE;
    }
    g_autoptr(VpLabNetwork) n = g_new0(VpLabNetwork, 1);
    n->key = g_strdup(k->text);
    n->name = g_strdup_printf("%s-%s", lab->lab, k->text);
    n->line = k->line;
    n->column = k->column;
    for (guint i = 0; i + 1 < v->items->len; i += 2) {
        if (!vp_parse_net_key(ctx, lab, n, g_ptr_array_index(v->items, i),
                              g_ptr_array_index(v->items, i + 1), error)) {
            return FALSE;
        }
    }
    if (n->cidr_text == NULL) {
        vp_lab_error(error, ctx, k->line, k->column,
                     _("lab network '%1$s' has no cidr; add one, such as 'cidr: 10.88.0.0/16'"),
                     k->text);
        return FALSE;
    }
    /* Two lab networks on one subnet would route each other's guests
     * nowhere. */
    for (guint i = 0; i < lab->networks->len; i++) {
        const VpLabNetwork *o = g_ptr_array_index(lab->networks, i);
        if (vp_ipv4_net_overlaps(&o->cidr, &n->cidr)) {
            vp_lab_error(error, ctx, k->line, k->column,
                         _("lab network '%1$s' (%2$s) overlaps '%3$s' (%4$s); give each its own cidr"),
                         k->text, n->cidr_text, o->key, o->cidr_text);
            return FALSE;
        }
    }
    g_hash_table_insert(ctx->networks, n->key, n);
    g_ptr_array_add(lab->networks, g_steal_pointer(&n));
    return TRUE;
}

gboolean
vp_parse_networks(const VpLabCtx *ctx, VpLab *lab, const VpYNode *key,
                  const VpYNode *value, GError **error)
{
    if (value->kind != VP_Y_MAPPING || value->items->len == 0) {
        vp_lab_error(error, ctx, value->line, value->column,
                     _("'networks' is a mapping of lab networks; write it as 'networks: {lan: {cidr: 10.88.0.0/16}}', or remove it"));
        return FALSE;
    }
    (void)key;
    for (guint i = 0; i + 1 < value->items->len; i += 2) {
        if (!vp_parse_network(ctx, lab, g_ptr_array_index(value->items, i),
                              g_ptr_array_index(value->items, i + 1), error)) {
            return FALSE;
        }
    }
    return TRUE;
}

char *
vp_lab_network_value(const VpLabCtx *ctx, const char *text)
{
    const VpLabNetwork *n = g_hash_table_lookup(ctx->networks, text);

    /* A lab network by its key alone: "lan". */
    if (n != NULL) {
        return g_strconcat("network=", n->name, NULL);
    }
    /* Or as the network of a command line's value: "network=lan,ip=...". */
    if (g_str_has_prefix(text, "network=")) {
        const char *name = text + 8;
        gsize len = strcspn(name, ",");
        g_autofree char *k = g_strndup(name, len);
        n = g_hash_table_lookup(ctx->networks, k);
        if (n != NULL) {
            return g_strconcat("network=", n->name, name + len, NULL);
        }
    }
    return g_strdup(text);
}

const VpLabNetwork *
vp_lab_find_network(const VpLab *lab, const char *name)
{
    for (guint i = 0; lab->networks != NULL && i < lab->networks->len; i++) {
        const VpLabNetwork *n = g_ptr_array_index(lab->networks, i);
        if (g_str_equal(n->name, name)) {
            return n;
        }
    }
    return NULL;
}

/* The network and ip= of LINE, a network value as the hosts see it
 * ("network=NAME,...,ip=ADDR"); FALSE when it has no ip=. */
static gboolean
vp_value_address(const char *line, char **network, char **ip)
{
    g_auto(GStrv) parts = g_strsplit(line, ",", -1);

    *network = *ip = NULL;
    for (guint i = 0; parts[i] != NULL; i++) {
        if (g_str_has_prefix(parts[i], "network=") && *network == NULL) {
            *network = g_strdup(parts[i] + 8);
        } else if (g_str_has_prefix(parts[i], "ip=") && *ip == NULL) {
            *ip = g_strdup(parts[i] + 3);
        }
    }
    if (*ip == NULL) {
        g_clear_pointer(network, g_free);
    }
    return *ip != NULL;
}

gboolean
vp_lab_check_addresses(const VpLabCtx *ctx, const VpLab *lab,
                       const char *name, const char *host, const char *network,
                       guint line, guint column, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(network != NULL ? network : "", "\n", -1);

    for (guint i = 0; lines[i] != NULL; i++) {
        g_autofree char *net = NULL;
        g_autofree char *ip = NULL;
        const VpLabNetwork *n = NULL;
        guint32 addr;
        VpIpv4Net subnet = { 0 };
        guint index = 0;

        if (!vp_value_address(lines[i], &net, &ip) ||
            (n = vp_lab_find_network(lab, net)) == NULL) {
            continue;
        }
        if (host == NULL) {
            vp_lab_error(error, ctx, line, column,
                         _("guest '%1$s' has the fixed address %2$s on lab network '%3$s', but each host has its own subnet of it; pin the guest with 'host:'"),
                         name, ip, n->key);
            return FALSE;
        }
        while (index < lab->hosts->len &&
               !g_str_equal(((const VpLabHost *)g_ptr_array_index(lab->hosts, index))->name,
                            host)) {
            index++;
        }
        if (!vp_lab_host_subnet(&n->cidr, index, &subnet) ||
            !vp_ipv4_parse(ip, &addr) || !vp_ipv4_net_contains(&subnet, addr)) {
            g_autofree char *first = vp_ipv4_format(subnet.addr);
            vp_lab_error(error, ctx, line, column,
                         _("the address %1$s of guest '%2$s' is not in the subnet %3$s/24 of lab network '%4$s' on host '%5$s'; use an address of it"),
                         ip, name, first, n->key, host);
            return FALSE;
        }
    }
    return TRUE;
}
