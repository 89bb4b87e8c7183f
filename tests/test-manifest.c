/* Lab manifests: accepted files with their guest lists and options, a
 * table of malformed ones with the message and the exact line:column of
 * each, and the options hash. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "manifest.h"
#include "qcow2-emit.h"
#include "qcow2-layout.h"
#include "sink-file.h"
#include "uri.h"

/* A scratch directory holding the manifest's cloud-init files; manifests
 * are parsed as if they were SCRATCH/lab.yaml. */
static char *scratch;
static char *lab_path;

static char *
write_file(const char *name, const char *text, gssize len)
{
    char *path = g_build_filename(scratch, name, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, text, len, &error));
    g_assert_no_error(error);
    return path;
}

static VpLab *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    VpLab *lab = vp_lab_parse(text, strlen(text), lab_path, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(lab);
    return lab;
}

static const VpLabGuest *
guest(const VpLab *lab, guint i)
{
    g_assert_cmpuint(i, <, lab->guests->len);
    return g_ptr_array_index(lab->guests, i);
}

static const char *
opt(const VpLabGuest *g, const char *key)
{
    return g_hash_table_lookup(g->options, key);
}

static char *
in_scratch(const char *name)
{
    return g_build_filename(scratch, name, NULL);
}

/* ---------------------------------------------------------------- */
/* Accepted */

/* The example of design.md, "Labs", as written there. */
static const char design_example[] =
    "lab: ci-42                     # recorded in every guest this lab creates\n"
    "hosts:                         # name: libvirt URI\n"
    "  hv1: qemu+ssh://root@hv1.example/system\n"
    "  hv2: qemu+ssh://root@hv2.example/system\n"
    "defaults:\n"
    "  pool: default\n"
    "  size: 20G\n"
    "  base: debian-12.qcow2\n"
    "  cloud-init: {user-data: ./user-data}\n"
    "guests:\n"
    "  - name: web                  # count: N makes web-1 .. web-N\n"
    "    count: 10\n"
    "  - name: db\n"
    "    host: hv2                  # pinned; others go to the host with the fewest lab guests\n"
    "    size: 100G\n";

static void
test_design_example(void)
{
    g_autoptr(VpLab) lab = parse_ok(design_example);
    g_autofree char *user_data = in_scratch("user-data");

    g_assert_cmpstr(lab->lab, ==, "ci-42");
    g_assert_cmpstr(lab->path, ==, lab_path);
    g_assert_cmpuint(lab->hosts->len, ==, 2);
    const VpLabHost *h1 = g_ptr_array_index(lab->hosts, 0);
    const VpLabHost *h2 = g_ptr_array_index(lab->hosts, 1);
    g_assert_cmpstr(h1->name, ==, "hv1");
    g_assert_cmpstr(h1->uri, ==, "qemu+ssh://root@hv1.example/system");
    g_assert_cmpuint(h1->line, ==, 3);
    g_assert_cmpuint(h1->column, ==, 3);
    g_assert_cmpstr(h2->name, ==, "hv2");
    g_assert_cmpstr(h2->uri, ==, "qemu+ssh://root@hv2.example/system");

    g_assert_cmpuint(lab->guests->len, ==, 11);
    for (guint i = 0; i < 10; i++) {
        const VpLabGuest *g = guest(lab, i);
        g_autofree char *name = g_strdup_printf("web-%u", i + 1);
        g_assert_cmpstr(g->name, ==, name);
        g_assert_cmpstr(g->manifest_name, ==, "web");
        g_assert_null(g->host);
        g_assert_cmpuint(g->line, ==, 11);
        g_assert_cmpuint(g->column, ==, 5);
        g_assert_cmpuint(g_hash_table_size(g->options), ==, 3);
        g_assert_cmpstr(opt(g, "pool"), ==, "default");
        g_assert_cmpstr(opt(g, "size"), ==, "20G");
        g_assert_cmpstr(opt(g, "base"), ==, "debian-12.qcow2");
        g_assert_nonnull(g->cloud_init);
        g_assert_cmpstr(g->cloud_init->user_data, ==, user_data);
        g_assert_null(g->cloud_init->meta_data);
        g_assert_false(g->cloud_init->disable);
    }
    const VpLabGuest *db = guest(lab, 10);
    g_assert_cmpstr(db->name, ==, "db");
    g_assert_cmpstr(db->manifest_name, ==, "db");
    g_assert_cmpstr(db->host, ==, "hv2");
    g_assert_cmpstr(opt(db, "size"), ==, "100G");
    g_assert_cmpstr(opt(db, "pool"), ==, "default");
    g_assert_cmpuint(db->line, ==, 13);
    g_assert_nonnull(db->cloud_init);
    g_assert_true(vp_lab_find_guest(lab, "web-7") == guest(lab, 6));
    g_assert_null(vp_lab_find_guest(lab, "web"));
}

/* The same lab as JSON, which is YAML. */
static void
test_json(void)
{
    g_autoptr(VpLab) lab = parse_ok(
        "{\n"
        "  \"lab\": \"ci-42\",\n"
        "  \"hosts\": {\"hv1\": \"qemu:///system\", \"hv2\": \"qemu+tls://hv2/system\"},\n"
        "  \"defaults\": {\"pool\": \"default\", \"size\": \"20G\", \"start\": true,\n"
        "                \"vcpus\": 4, \"cloud-init\": true},\n"
        "  \"guests\": [\n"
        "    {\"name\": \"web\", \"count\": 2, \"memory\": 4096},\n"
        "    {\"name\": \"db\", \"host\": \"hv1\", \"wait\": 120, \"start\": false}\n"
        "  ]\n"
        "}\n");
    g_assert_cmpstr(lab->lab, ==, "ci-42");
    g_assert_cmpuint(lab->hosts->len, ==, 2);
    g_assert_cmpuint(lab->guests->len, ==, 3);
    g_assert_cmpstr(guest(lab, 0)->name, ==, "web-1");
    g_assert_cmpstr(guest(lab, 1)->name, ==, "web-2");
    g_assert_cmpstr(opt(guest(lab, 1), "memory"), ==, "4096");
    g_assert_cmpstr(opt(guest(lab, 1), "vcpus"), ==, "4");
    g_assert_cmpstr(opt(guest(lab, 1), "start"), ==, "true");
    const VpLabGuest *db = guest(lab, 2);
    g_assert_cmpstr(db->name, ==, "db");
    g_assert_cmpstr(db->host, ==, "hv1");
    g_assert_cmpstr(opt(db, "wait"), ==, "120");
    g_assert_null(opt(db, "start")); /* false removes the default */
    g_assert_cmpuint(db->line, ==, 8);
    g_assert_cmpuint(db->column, ==, 5);
    /* A bare seed: every file unset. */
    g_assert_nonnull(db->cloud_init);
    g_assert_null(db->cloud_init->user_data);
}

static void
test_defaults_merge(void)
{
    /* An absolute path stays as it is. */
    g_autofree char *key = write_file("key.pub", "", 0);
    g_autofree char *text = g_strdup_printf(
        "lab: merge\n"
        "hosts:\n"
        "  hv1: qemu:///system\n"
        "defaults:\n"
        "  pool: default\n"
        "  size: 20G\n"
        "  memory: 2G\n"
        "  start: true\n"
        "  graphics: vnc\n"
        "  cloud-init:\n"
        "    user-data: user-data\n"
        "    disable: true\n"
        "guests:\n"
        "  - name: plain\n"
        "  - name: own\n"
        "    memory: 8G\n"
        "    start: false\n"
        "    disk-bus: sata\n"
        "    cloud-init: {meta-data: sub/meta-data, root-ssh-key: %s}\n"
        "  - name: noseed\n"
        "    cloud-init: false\n"
        "    wait: true\n"
        "    autostart: false\n", key);
    g_autoptr(VpLab) lab = parse_ok(text);
    g_autofree char *user_data = in_scratch("user-data");
    g_autofree char *meta_data = in_scratch("sub/meta-data");

    const VpLabGuest *plain = guest(lab, 0);
    g_assert_cmpuint(g_hash_table_size(plain->options), ==, 5);
    g_assert_cmpstr(opt(plain, "memory"), ==, "2G");
    g_assert_cmpstr(opt(plain, "start"), ==, "true");
    g_assert_cmpstr(opt(plain, "graphics"), ==, "vnc");
    g_assert_null(opt(plain, "cloud-init"));
    g_assert_cmpstr(plain->cloud_init->user_data, ==, user_data);
    g_assert_true(plain->cloud_init->disable);

    const VpLabGuest *own = guest(lab, 1);
    g_assert_cmpuint(g_hash_table_size(own->options), ==, 5);
    g_assert_cmpstr(opt(own, "memory"), ==, "8G");
    g_assert_null(opt(own, "start"));
    g_assert_cmpstr(opt(own, "disk-bus"), ==, "sata");
    g_assert_cmpstr(opt(own, "pool"), ==, "default");
    /* The guest's cloud-init replaces the default one whole. */
    g_assert_null(own->cloud_init->user_data);
    g_assert_cmpstr(own->cloud_init->meta_data, ==, meta_data);
    g_assert_cmpstr(own->cloud_init->root_ssh_key, ==, key);
    g_assert_false(own->cloud_init->disable);

    const VpLabGuest *noseed = guest(lab, 2);
    g_assert_null(noseed->cloud_init);
    g_assert_cmpstr(opt(noseed, "wait"), ==, "true");
    g_assert_null(opt(noseed, "autostart"));
}

static void
test_count_order(void)
{
    g_autoptr(VpLab) lab = parse_ok(
        "lab: order\n"
        "hosts: {hv1: 'qemu:///system'}\n"
        "defaults: {pool: p, base: b.qcow2}\n"
        "guests:\n"
        "  - {name: a, count: 2}\n"
        "  - {name: b}\n"
        "  - {name: c, count: 3}\n"
        "  - {name: one, count: 1}\n"
        "  - {name: a-3}\n");
    static const char *const names[] = { "a-1", "a-2", "b", "c-1", "c-2",
                                         "c-3", "one-1", "a-3" };
    static const char *const entries[] = { "a", "a", "b", "c", "c", "c",
                                           "one", "a-3" };
    g_assert_cmpuint(lab->guests->len, ==, G_N_ELEMENTS(names));
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_assert_cmpstr(guest(lab, i)->name, ==, names[i]);
        g_assert_cmpstr(guest(lab, i)->manifest_name, ==, entries[i]);
        g_assert_null(opt(guest(lab, i), "count"));
        g_assert_null(opt(guest(lab, i), "name"));
    }
    g_assert_cmpuint(guest(lab, 3)->line, ==, 7);
    g_assert_cmpuint(guest(lab, 3)->column, ==, 5);
}

static void
test_pins(void)
{
    g_autoptr(VpLab) lab = parse_ok(
        "lab: pins\n"
        "hosts:\n"
        "  hv1: qemu:///system\n"
        "  hv2: qemu+ssh://root@hv2/system\n"
        "  hv3: qemu+unix:///session?socket=/run/hv3.sock\n"
        "defaults: {pool: p, size: 1G}\n"
        "guests:\n"
        "  - name: free\n"
        "  - name: pinned\n"
        "    host: hv3\n"
        "    count: 2\n"
        "  - name: other\n"
        "    host: hv1\n");
    g_assert_cmpuint(lab->hosts->len, ==, 3);
    g_assert_null(guest(lab, 0)->host);
    g_assert_cmpstr(guest(lab, 1)->host, ==, "hv3");
    g_assert_cmpstr(guest(lab, 2)->host, ==, "hv3");
    g_assert_cmpstr(guest(lab, 3)->host, ==, "hv1");
    g_assert_null(opt(guest(lab, 1), "host"));
}

/* Lab networks (design.md's example): each named LAB-KEY on the hosts,
 * carved per host; a guest names one by its key, alone or as network=,
 * with sub-options; other networks stay as written. */
static void
test_networks(void)
{
    g_autoptr(VpLab) lab = parse_ok(
        "lab: ci-42\n"
        "hosts: {hv1: 'qemu:///system', hv2: 'qemu+ssh://root@hv2/system'}\n"
        "networks:\n"
        "  lan:\n"
        "    cidr: 10.88.0.0/16\n"
        "    mode: route\n"
        "    domain: ci-42.test\n"
        "  back: {cidr: 10.89.0.0/23}\n"
        "defaults:\n"
        "  pool: p\n"
        "  size: 1G\n"
        "  network: [lan]\n"
        "guests:\n"
        "  - name: web\n"
        "  - name: db\n"
        "    host: hv2\n"
        "    network: [{network: lan, ip: 10.88.1.10}, 'network=back,model=e1000e', network=default]\n");
    g_assert_cmpuint(lab->networks->len, ==, 2);
    const VpLabNetwork *lan = g_ptr_array_index(lab->networks, 0);
    const VpLabNetwork *back = g_ptr_array_index(lab->networks, 1);
    g_assert_cmpstr(lan->key, ==, "lan");
    g_assert_cmpstr(lan->name, ==, "ci-42-lan");
    g_assert_cmpint(lan->mode, ==, VP_LAB_NET_ROUTE);
    g_assert_cmpstr(lan->domain, ==, "ci-42.test");
    g_assert_cmpuint(lan->cidr.prefix, ==, 16);
    g_assert_cmpint(back->mode, ==, VP_LAB_NET_NAT);
    g_assert_null(back->domain);
    g_assert_true(vp_lab_find_network(lab, "ci-42-back") == back);
    g_assert_null(vp_lab_find_network(lab, "back"));
    g_assert_cmpstr(opt(guest(lab, 0), "network"), ==, "network=ci-42-lan");
    g_assert_cmpstr(opt(guest(lab, 1), "network"), ==,
                    "network=ci-42-lan,ip=10.88.1.10\n"
                    "network=ci-42-back,model=e1000e\nnetwork=default");
}

/* Every provision key with a valid value, so that the table cannot lose
 * one silently. */
static void
test_every_key(void)
{
    g_autoptr(VpLab) lab = parse_ok(
        "lab: keys\n"
        "hosts: {hv1: 'qemu:///system'}\n"
        "guests:\n"
        "  - name: k\n"
        "    pool: default\n"
        "    size: 1.5T\n"
        "    base: pool2/debian.qcow2\n"
        "    memory: 4G\n"
        "    vcpus: 4096\n"
        "    virt-type: qemu\n"
        "    arch: aarch64\n"
        "    machine: virt\n"
        "    kernel: /boot/vmlinuz\n"
        "    initrd: /boot/initrd.img\n"
        "    cmdline: console=ttyS0 root=/dev/vda1\n"
        "    network: bridge=br0\n"
        "    graphics: spice\n"
        "    disk-bus: scsi\n"
        "    cache: writeback\n"
        "    io: io_uring\n"
        "    discard: unmap\n"
        "    start: true\n"
        "    autostart: true\n"
        "    wait: 86400\n"
        "    format: qcow2\n"
        "    preallocation: falloc\n"
        "    cluster-size: 2M\n"
        "    compat: 0.10\n"
        "    refcount-bits: 64\n"
        "    lazy-refcounts: true\n"
        "    extended-l2: true\n"
        "    backing: /var/lib/libvirt/images/b.qcow2\n"
        "    backing-format: qcow2\n"
        "  - {name: i, pool: p, size: 1G, import: true}\n"
        "  - {name: c, pool: p, size: 1G, cdrom: /isos/d.iso, format: raw}\n"
        "  - name: n\n"
        "    pool: p\n"
        "    size: 1G\n"
        "    network: ['network=lab,mac=52:54:00:00:00:0a', 'bridge=br0,model=e1000e', user]\n"
        "  - name: m\n"
        "    pool: p\n"
        "    size: 1G\n"
        "    network: [{network: lab, mac: '52:54:00:00:00:0b'}, {user: true, model: e1000e}]\n"
        "  - {name: s, pool: p, size: 1G, network: {bridge: br1}}\n");
    const VpLabGuest *k = guest(lab, 0);
    g_assert_cmpuint(g_hash_table_size(k->options), ==, 29);
    g_assert_cmpstr(opt(k, "compat"), ==, "0.10");
    g_assert_cmpstr(opt(k, "cmdline"), ==, "console=ttyS0 root=/dev/vda1");
    g_assert_cmpstr(opt(guest(lab, 1), "import"), ==, "true");
    g_assert_cmpstr(opt(guest(lab, 2), "cdrom"), ==, "/isos/d.iso");
    /* A repeatable option's list: one value per line, in order. */
    g_assert_cmpstr(opt(guest(lab, 3), "network"), ==,
                    "network=lab,mac=52:54:00:00:00:0a\nbridge=br0,model=e1000e\nuser");
    /* Its sub-options as mappings: the same text as on a command line. */
    g_assert_cmpstr(opt(guest(lab, 4), "network"), ==,
                    "network=lab,mac=52:54:00:00:00:0b\nuser,model=e1000e");
    g_assert_cmpstr(opt(guest(lab, 5), "network"), ==, "bridge=br1");
}

/* ---------------------------------------------------------------- */
/* Rejected */

#define HEAD                                                                  \
    "lab: t\n"                                                                \
    "hosts:\n"                                                                \
    "  hv1: qemu:///system\n"                                                 \
    "  hv2: qemu+ssh://hv2/system\n"                                          \
    "defaults:\n"                                                             \
    "  pool: p\n"                                                             \
    "  size: 1G\n"
/* HEAD is 7 lines: a guest list after it starts on line 8. */
#define GUEST "guests:\n  - name: a\n"

typedef struct {
    const char *id;      /* test path /manifest/reject/ID */
    const char *text;
    gsize len;           /* 0: strlen(text) */
    const char *message; /* a substring of the message */
    guint line, column;
} RejectCase;

static const RejectCase rejected[] = {
    /* files and YAML */
    { "empty", "", 0, "the manifest is empty", 1, 1 },
    { "comments-only", "# a lab\n\n# nothing yet\n", 0, "the manifest is empty", 1, 1 },
    { "only-null", "---\n~\n", 0, "the manifest is empty", 1, 1 },
    { "not-utf8", "lab: caf\xe9\n", 0, "is not UTF-8 text", 1, 9 },
    { "not-utf8-later", HEAD GUEST "    arch: \xc3\x28\n", 0, "is not UTF-8", 10, 11 },
    { "nul-byte", "lab: t\n\0hosts:\n", 15, "holds a NUL byte", 2, 1 },
    { "nul-escape", "lab: \"t\\0\"\n", 0, "holds a NUL character", 1, 6 },
    { "syntax-unclosed", HEAD "guests: [{name: a}\n", 0, "not valid YAML", 9, 1 },
    { "syntax-indent", HEAD "guests:\n  - name: a\n   pool: q\n", 0, "did not find expected '-' indicator", 10, 4 },
    { "syntax-tab", HEAD "guests:\n\t- name: a\n", 0, "not valid YAML", 9, 1 },
    { "two-documents", HEAD GUEST "---\nlab: u\n", 0, "second YAML document", 10, 1 },
    { "anchor", HEAD "guests:\n  - &g {name: a}\n", 0, "anchors ('&name') are not allowed", 9, 5 },
    { "billion-laughs",
      "lab: t\n"
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
      "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
      "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
      "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
      "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
      "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
      "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
      0, "anchors ('&name') are not allowed", 2, 4 },
    { "deep", "lab: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", 0,
      "deeper than 16 levels", 1, 21 },
    { "alias", "lab: *x\n", 0, "aliases ('*name') are not allowed", 1, 6 },
    { "tag", "lab: !!str t\n", 0, "tags ('!name') are not allowed", 1, 6 },
    { "local-tag", HEAD "guests: !list [{name: a}]\n", 0, "tags ('!name')", 8, 9 },
    { "key-not-scalar", HEAD GUEST "? [a, b]\n: c\n", 0, "a key must be a word", 10, 3 },
    { "key-empty", HEAD GUEST "    : x\n", 0, "a key is empty", 10, 7 },
    { "key-null", HEAD GUEST "    ~: x\n", 0, "a key is empty", 10, 5 },
    { "guest-empty-item", HEAD "guests:\n  - name: a\n  -\n", 0, "a guest is a mapping", 10, 3 },
    { "columns-are-characters", HEAD "guests:\n  - {name: a, arch: \u00e9\u00e9\u00e9, bogus: 1}\n", 0,
      "unknown key 'bogus'", 9, 26 },
    /* top level */
    { "root-list", "- lab\n- t\n", 0, "a lab manifest is a mapping", 1, 1 },
    { "root-scalar", "lab\n", 0, "a lab manifest is a mapping", 1, 1 },
    { "top-suggest", HEAD "gusts:\n  - name: a\n", 0, "unknown key 'gusts'; did you mean 'guests'?", 8, 1 },
    { "top-unknown", HEAD GUEST "version: 2\n", 0, "unknown key 'version'; a manifest has lab, hosts", 10, 1 },
    { "top-guest-key", HEAD "memory: 4G\n" GUEST, 0, "'memory' is a guest key", 8, 1 },
    { "no-lab", "hosts: {hv1: 'qemu:///system'}\nguests: [{name: a}]\n", 0, "has no 'lab'", 1, 1 },
    { "no-hosts", "lab: t\nguests: [{name: a}]\n", 0, "has no 'hosts'", 1, 1 },
    { "no-guests", HEAD, 0, "has no 'guests'", 1, 1 },
    { "dup-top-key", "lab: a\nlab: b\n", 0, "key 'lab' is given twice, first at line 1, column 1", 2, 1 },
    { "lab-name", "lab: ci 42\n", 0, "lab name 'ci 42' must be", 1, 6 },
    { "lab-name-long", "lab: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0,
      "lab name 'aaaa", 1, 6 },
    { "lab-mapping", "lab: {a: 1}\n", 0, "'lab' takes one value", 1, 6 },
    { "lab-null", "lab:\nhosts: {}\n", 0, "'lab' has no value", 1, 1 },
    { "lab-true", "lab: true\n", 0, "'lab' takes a value such as 'ci-42', not true", 1, 6 },
    /* hosts */
    { "hosts-null", "lab: t\nhosts:\nguests: [{name: a}]\n", 0, "'hosts' is empty", 2, 1 },
    { "hosts-empty", "lab: t\nhosts: {}\nguests: [{name: a}]\n", 0, "'hosts' is empty", 2, 8 },
    { "hosts-list", "lab: t\nhosts: [hv1]\nguests: [{name: a}]\n", 0, "'hosts' is a mapping", 2, 8 },
    { "host-name", "lab: t\nhosts:\n  hv/1: qemu:///system\nguests: [{name: a}]\n", 0,
      "host name 'hv/1' must be", 3, 3 },
    { "host-uri", "lab: t\nhosts:\n  hv1: hv1.example\nguests: [{name: a}]\n", 0,
      "host 'hv1' has 'hv1.example', which is not a libvirt URI", 3, 8 },
    { "host-uri-twice", "lab: t\nhosts:\n  hv1: qemu:///system\n  hv2: qemu:///system\n"
      "guests: [{name: a}]\n", 0, "hosts 'hv1' and 'hv2' have the same URI", 4, 8 },
    { "dup-host", "lab: t\nhosts:\n  hv1: qemu:///system\n  hv1: qemu:///session\n", 0,
      "key 'hv1' is given twice, first at line 3, column 3", 4, 3 },
    /* URIs that would run a command here (issue 14): before any other
     * host, at the URI */
    { "host-uri-ext", "lab: t\nhosts:\n  hv1: qemu+ext:///system?command=/tmp/x\n", 0,
      "uses the ext transport, which runs a command on this machine", 3, 8 },
    { "host-uri-ext-upper", "lab: t\nhosts:\n  hv0: qemu:///system\n  hv1: QEMU+EXT:///system\n",
      0, "uses the ext transport", 4, 8 },
    { "host-uri-ssh-command", "lab: t\nhosts:\n  hv1: qemu+ssh://h/system?command=/tmp/x\n", 0,
      "has a 'command' parameter, which runs a command on this machine; remove", 3, 8 },
    { "host-uri-command-encoded", "lab: t\nhosts:\n  hv1: 'qemu+ssh://h/system?x=1&%63OMMAND=/x'\n",
      0, "has a 'command' parameter", 3, 8 },
    /* guests */
    { "guests-null", HEAD "guests:\n", 0, "'guests' is empty", 8, 1 },
    { "guests-empty", HEAD "guests: []\n", 0, "'guests' is empty", 8, 1 },
    { "guests-mapping", HEAD "guests: {name: a}\n", 0, "'guests' is a list", 8, 9 },
    { "guest-scalar", HEAD "guests:\n  - web\n", 0, "a guest is a mapping", 9, 5 },
    { "guest-no-name", HEAD "guests:\n  - memory: 4G\n", 0, "this guest has no name", 9, 5 },
    { "guest-name-bad", HEAD "guests:\n  - name: -web\n", 0, "guest name '-web' must be", 9, 11 },
    { "guest-name-list", HEAD "guests:\n  - name: [a]\n", 0, "'name' takes one value", 9, 11 },
    { "guest-name-long", HEAD "guests:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
      "    count: 10\n", 0, "longer than 64 characters", 9, 11 },
    { "unknown-suggest", HEAD GUEST "    memroy: 4G\n", 0, "unknown key 'memroy'; did you mean 'memory'?", 10, 5 },
    { "unknown-underscore", HEAD GUEST "    disk_bus: sata\n", 0, "did you mean 'disk-bus'?", 10, 5 },
    { "unknown-no-suggest", HEAD GUEST "    flavour: large\n", 0,
      "unknown key 'flavour'; a guest takes name, host, count", 10, 5 },
    { "unknown-in-defaults", "lab: t\nhosts: {hv1: 'qemu:///system'}\ndefaults:\n  colour: red\n", 0,
      "unknown key 'colour' in defaults", 4, 3 },
    { "run-key", HEAD GUEST "    dry-run: true\n", 0, "'dry-run' is about a run", 10, 5 },
    { "connect-key", HEAD GUEST "    connect: qemu:///system\n", 0, "names its host with 'host'", 10, 5 },
    { "name-in-defaults", "lab: t\nhosts: {hv1: 'qemu:///system'}\ndefaults:\n  name: x\n", 0,
      "'name' belongs to each guest, not to defaults", 4, 3 },
    { "defaults-list", "lab: t\nhosts: {hv1: 'qemu:///system'}\ndefaults: [pool]\n", 0,
      "'defaults' is a mapping", 3, 11 },
    { "dup-key", HEAD GUEST "    pool: q\n    pool: r\n", 0,
      "key 'pool' is given twice, first at line 10, column 5", 11, 5 },
    { "dup-key-flow", HEAD "guests: [{name: a, name: b}]\n", 0,
      "key 'name' is given twice, first at line 8, column 11", 8, 20 },
    { "dup-name", HEAD "guests:\n  - name: a\n  - name: a\n", 0,
      "guest name 'a' is already taken by the guest at line 9, column 5; rename", 10, 11 },
    { "dup-name-count", HEAD "guests:\n  - name: web\n    count: 3\n  - name: web-2\n", 0,
      "guest name 'web-2' is already taken by the guest at line 9, column 5 (a count", 11, 11 },
    { "dup-name-count-later", HEAD "guests:\n  - name: web-3\n  - name: web\n    count: 3\n", 0,
      "guest name 'web-3' is already taken by the guest at line 9, column 5", 10, 11 },
    { "count-0", HEAD GUEST "    count: 0\n", 0, "invalid 'count' value '0'; use a whole number from 1 to 1000", 10, 12 },
    { "count-1001", HEAD GUEST "    count: 1001\n", 0, "invalid 'count' value '1001'", 10, 12 },
    { "count-quoted", HEAD GUEST "    count: \"3\"\n", 0, "'count' takes a whole number from 1 to 1000, not the quoted text '3'", 10, 12 },
    { "count-negative", HEAD GUEST "    count: -2\n", 0, "invalid 'count' value '-2'", 10, 12 },
    { "count-fraction", HEAD GUEST "    count: 2.5\n", 0, "invalid 'count' value '2.5'", 10, 12 },
    { "count-octal", HEAD GUEST "    count: 010\n", 0, "invalid 'count' value '010'", 10, 12 },
    { "count-null", HEAD GUEST "    count:\n", 0, "'count' has no value", 10, 5 },
    { "host-undeclared", HEAD GUEST "    host: hv9\n", 0,
      "host 'hv9' is not declared under 'hosts'; declare it or use one of hv1, hv2", 10, 11 },
    /* values */
    { "size-bad", HEAD GUEST "    size: 20X\n", 0, "invalid size '20X'", 10, 11 },
    { "size-huge", HEAD GUEST "    size: 99999E\n", 0, "size '99999E' is too large: the limit is 16 EiB", 10, 11 },
    { "memory-small", HEAD GUEST "    memory: 8\n", 0, "invalid 'memory' value '8'", 10, 13 },
    { "cluster-size", HEAD GUEST "    cluster-size: 3000\n", 0,
      "invalid 'cluster-size' value '3000'; use a power of two", 10, 19 },
    { "vcpus-0", HEAD GUEST "    vcpus: 0\n", 0, "invalid 'vcpus' value '0'; use a whole number from 1 to 4096", 10, 12 },
    { "vcpus-text", HEAD GUEST "    vcpus: many\n", 0, "invalid 'vcpus' value 'many'", 10, 12 },
    { "refcount-bits", HEAD GUEST "    refcount-bits: 12\n", 0, "use 1, 2, 4, 8, 16, 32 or 64", 10, 20 },
    { "choice-graphics", HEAD GUEST "    graphics: vga\n", 0,
      "invalid 'graphics' value 'vga'; use none, vnc or spice", 10, 15 },
    { "choice-format", HEAD GUEST "    format: vmdk\n", 0, "invalid 'format' value 'vmdk'; use qcow2 or raw", 10, 13 },
    { "choice-prealloc", HEAD GUEST "    preallocation: sparse\n", 0, "use off, metadata, falloc or full", 10, 20 },
    { "choice-case", HEAD GUEST "    virt-type: KVM\n", 0, "invalid 'virt-type' value 'KVM'", 10, 16 },
    { "network", HEAD GUEST "    network: default\n", 0, "invalid 'network' value 'default'", 10, 14 },
    { "network-list-item", HEAD GUEST "    network: [user, wifi]\n", 0, "invalid 'network' value 'wifi'", 10, 21 },
    { "network-list-empty", HEAD GUEST "    network: []\n", 0, "'network' is an empty list", 10, 14 },
    { "network-list-none", HEAD GUEST "    network: [user, none]\n", 0, "'network' lists a value that must stand alone", 10, 14 },
    { "networks-list", HEAD "networks: [lan]\n" GUEST, 0, "'networks' is a mapping of lab networks", 8, 11 },
    { "networks-name", HEAD "networks: {'-x': {cidr: 10.88.0.0/16}}\n" GUEST, 0, "lab network name '-x' must be", 8, 12 },
    { "networks-no-cidr", HEAD "networks: {lan: {mode: nat}}\n" GUEST, 0, "lab network 'lan' has no cidr", 8, 12 },
    { "networks-cidr-bits", HEAD "networks: {lan: {cidr: 10.88.1.0/16}}\n" GUEST, 0, "invalid 'cidr' value '10.88.1.0/16'; use an IPv4 network of at least one /24 per host (2 here)", 8, 24 },
    { "networks-cidr-small", HEAD "networks: {lan: {cidr: 10.88.1.0/24}}\n" GUEST, 0, "invalid 'cidr' value '10.88.1.0/24'", 8, 24 },
    { "networks-mode", HEAD "networks: {lan: {cidr: 10.88.0.0/16, mode: bridge}}\n" GUEST, 0, "invalid 'mode' value 'bridge'; use nat, isolated or route", 8, 44 },
    { "networks-domain", HEAD "networks: {lan: {cidr: 10.88.0.0/16, domain: Lab_1}}\n" GUEST, 0, "invalid 'domain' value 'Lab_1'", 8, 46 },
    { "networks-key", HEAD "networks: {lan: {cidr: 10.88.0.0/16, cdir: x}}\n" GUEST, 0, "unknown key 'cdir'; did you mean 'cidr'?", 8, 38 },
    { "networks-overlap", HEAD "networks: {a: {cidr: 10.88.0.0/16}, b: {cidr: 10.88.4.0/22}}\n" GUEST, 0, "lab network 'b' (10.88.4.0/22) overlaps 'a' (10.88.0.0/16)", 8, 37 },
    { "network-ip-unpinned", HEAD "networks: {lan: {cidr: 10.88.0.0/16}}\n" GUEST "    network: 'network=lan,ip=10.88.0.130'\n", 0, "guest 'a' has the fixed address 10.88.0.130 on lab network 'lan', but each host has its own subnet of it; pin the guest with 'host:'", 11, 5 },
    { "network-ip-subnet", HEAD "networks: {lan: {cidr: 10.88.0.0/16}}\n" GUEST "    host: hv2\n    network: [{network: lan, ip: 10.88.0.130}]\n", 0, "the address 10.88.0.130 of guest 'a' is not in the subnet 10.88.1.0/24 of lab network 'lan' on host 'hv2'", 12, 5 },
    { "network-unknown-key", HEAD GUEST "    network: [lan]\n", 0, "invalid 'network' value 'lan'", 10, 15 },
    { "network-ip-user", HEAD GUEST "    network: user,ip=10.0.0.5\n", 0, "invalid 'network' value 'user,ip=10.0.0.5'", 10, 14 },
    { "network-ip-bad", HEAD GUEST "    network: network=default,ip=10.0.0.256\n", 0, "invalid 'network' value", 10, 14 },
    { "network-map-key", HEAD GUEST "    network: [{network: lab, colour: red}]\n", 0, "unknown key 'colour' in 'network'; use network=NAME", 10, 30 },
    { "network-map-word", HEAD GUEST "    network: [{user: false}]\n", 0, "'user' in 'network' takes true", 10, 22 },
    { "network-map-comma", HEAD GUEST "    network: [{network: 'a,b'}]\n", 0, "invalid 'network' value 'a,b'", 10, 25 },
    { "network-map-two", HEAD GUEST "    network: [{network: a, bridge: b}]\n", 0, "invalid 'network' value 'network=a,bridge=b'", 10, 15 },
    { "network-map-mac", HEAD GUEST "    network: {user: true, mac: '01:00:00:00:00:01'}\n", 0, "invalid 'network' value 'user,mac=01:00:00:00:00:01'", 10, 14 },
    { "network-mac", HEAD GUEST "    network: user,mac=ff:ff:ff:ff:ff:ff\n", 0, "invalid 'network' value 'user,mac=ff:ff:ff:ff:ff:ff'", 10, 14 },
    { "list-not-repeatable", HEAD GUEST "    graphics: [vnc]\n", 0, "'graphics' takes one value", 10, 15 },
    { "flag-yes", HEAD GUEST "    start: yes\n", 0, "invalid 'start' value 'yes'; use true or false", 10, 12 },
    { "flag-quoted", HEAD GUEST "    start: 'true'\n", 0, "not the quoted text 'true'", 10, 12 },
    { "flag-number", HEAD GUEST "    autostart: 1\n", 0, "invalid 'autostart' value '1'", 10, 16 },
    { "wait-0", HEAD GUEST "    wait: 0\n", 0, "invalid 'wait' value '0'; use true, or a number of seconds", 10, 11 },
    { "text-true", HEAD GUEST "    machine: true\n", 0, "'machine' takes a value such as 'q35', not true", 10, 14 },
    { "text-null", HEAD GUEST "    pool:\n", 0, "'pool' has no value", 10, 5 },
    { "text-empty", HEAD GUEST "    pool: ''\n", 0, "'pool' has no value", 10, 5 },
    { "text-mapping", HEAD GUEST "    base: {a: b}\n", 0, "'base' takes one value", 10, 11 },
    /* combinations */
    { "no-pool", "lab: t\nhosts: {hv1: 'qemu:///system'}\nguests:\n  - name: a\n    size: 1G\n", 0,
      "guest 'a' has no pool", 4, 5 },
    { "no-size", "lab: t\nhosts: {hv1: 'qemu:///system'}\nguests:\n  - {name: a, pool: p}\n", 0,
      "guest 'a' has neither size nor base", 4, 5 },
    { "two-installs", HEAD GUEST "    cdrom: /i.iso\n    import: true\n", 0,
      "more than one of cdrom, kernel and import", 9, 5 },
    { "initrd-alone", HEAD GUEST "    initrd: /boot/i\n", 0, "initrd or cmdline without kernel", 9, 5 },
    { "raw-cluster", HEAD GUEST "    format: raw\n    cluster-size: 64K\n", 0,
      "has format raw, to which 'cluster-size' does not apply", 9, 5 },
    /* cloud-init */
    { "seed-missing", HEAD GUEST "    cloud-init: {user-data: ./nope}\n", 0,
      "cannot read user-data file '", 10, 29 },
    { "seed-directory", HEAD GUEST "    cloud-init: {meta-data: sub}\n", 0, "is not a regular file", 10, 29 },
    { "seed-suggest", HEAD GUEST "    cloud-init: {user_data: ./user-data}\n", 0,
      "unknown cloud-init key 'user_data'; did you mean 'user-data'?", 10, 18 },
    { "seed-unknown", HEAD GUEST "    cloud-init: {vendor-data: ./v}\n", 0,
      "unknown cloud-init key 'vendor-data'; use user-data", 10, 18 },
    { "seed-null", HEAD GUEST "    cloud-init:\n", 0, "'cloud-init' has no value; use true", 10, 5 },
    { "seed-string", HEAD GUEST "    cloud-init: user-data=./u\n", 0, "'cloud-init' takes true or a mapping", 10, 17 },
    { "seed-disable", HEAD GUEST "    cloud-init: {disable: on}\n", 0, "invalid 'disable' value 'on'", 10, 27 },
    { "seed-in-defaults", "lab: t\nhosts: {hv1: 'qemu:///system'}\ndefaults:\n"
      "  cloud-init:\n    network-config: /nonexistent/n.yaml\n", 0,
      "cannot read network-config file '/nonexistent/n.yaml'", 5, 21 },
};

static void
check_rejected(const char *path, const char *message, guint line, guint column, GError *error)
{
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_autofree char *where = g_strdup_printf("%s:%u:%u: ", path, line, column);
    if (!g_str_has_prefix(error->message, where) ||
        strstr(error->message, message) == NULL) {
        g_test_message("got: %s", error->message);
        g_test_message("want: %s... %s", where, message);
        g_test_fail();
    }
    g_assert_null(strchr(error->message, '\n'));
}

static void
test_rejected(gconstpointer data)
{
    const RejectCase *c = data;
    gsize len = c->len != 0 ? c->len : strlen(c->text);
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLab) lab = vp_lab_parse(c->text, len, lab_path, NULL, &error);
    g_assert_null(lab);
    check_rejected(lab_path, c->message, c->line, c->column,
                   error);
}

/* A 10 MB file through vp_lab_load, which must not read it whole. */
static void
test_load_too_large(void)
{
    gsize len = 10 * 1000 * 1000;
    g_autofree char *text = g_malloc(len);
    memset(text, '#', len);
    g_autofree char *path = write_file("big.yaml", text, (gssize)len);
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLab) lab = vp_lab_load(path, NULL, &error);
    g_assert_null(lab);
    check_rejected(path, "larger than the limit of 1 MiB", 1, 1,
                   error);
    g_unlink(path);
}

static void
test_load(void)
{
    g_autofree char *path = write_file("lab.yaml", design_example, -1);
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLab) lab = vp_lab_load(path, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(lab->guests->len, ==, 11);

    g_autofree char *missing = in_scratch("missing.yaml");
    g_autoptr(VpLab) none = vp_lab_load(missing, NULL, &error);
    g_assert_null(none);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "cannot read lab manifest"));
    g_clear_error(&error);

    /* Exactly at the limit is not too large (a comment only: empty). */
    gsize len = VP_LAB_MAX_FILE;
    g_autofree char *text = g_malloc(len);
    memset(text, '#', len);
    g_autofree char *big = write_file("limit.yaml", text, (gssize)len);
    g_autoptr(VpLab) empty = vp_lab_load(big, NULL, &error);
    g_assert_null(empty);
    check_rejected(big, "the manifest is empty", 1, 1, error);
    g_unlink(big);
}

/* ---------------------------------------------------------------- */
/* Options hash */

static char *
hash_of(const char *text, guint i)
{
    g_autoptr(VpLab) lab = parse_ok(text);
    g_autoptr(GError) error = NULL;
    char *hash = vp_lab_guest_options_hash(guest(lab, i), &error);
    g_assert_no_error(error);
    g_assert_nonnull(hash);
    g_assert_cmpuint(strlen(hash), ==, 64);
    return hash;
}

static void
test_hash(void)
{
    g_autofree char *a = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "defaults: {pool: p, memory: 4G}\n"
        "guests:\n"
        "  - name: x\n    size: 20G\n    vcpus: 2\n"
        "    cloud-init: {user-data: ./hash-ud, disable: true}\n", 0);
    /* The same options in another order, half of them from defaults, and
     * another name and host: the same guest. */
    g_autofree char *b = hash_of(
        "lab: other\nhosts: {hv9: 'qemu+ssh://h/system'}\n"
        "defaults: {vcpus: 2, size: 20G}\n"
        "guests:\n"
        "  - cloud-init: {disable: true, user-data: hash-ud}\n"
        "    memory: 4G\n    host: hv9\n    name: y\n    pool: p\n", 0);
    g_assert_cmpstr(a, ==, b);

    /* One value differs. */
    g_autofree char *c = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "defaults: {pool: p, memory: 4G}\n"
        "guests:\n"
        "  - name: x\n    size: 20G\n    vcpus: 3\n"
        "    cloud-init: {user-data: ./hash-ud, disable: true}\n", 0);
    g_assert_cmpstr(a, !=, c);

    /* Without the seed, or with a bare one. */
    g_autofree char *d = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "guests: [{name: x, pool: p, memory: 4G, size: 20G, vcpus: 2}]\n", 0);
    g_autofree char *e = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "guests: [{name: x, pool: p, memory: 4G, size: 20G, vcpus: 2,"
        " cloud-init: true}]\n", 0);
    g_assert_cmpstr(a, !=, d);
    g_assert_cmpstr(d, !=, e);

    /* The seed file's content changes: the hash does; back: it is back. */
    g_autofree char *p = write_file("hash-ud", "#cloud-config\npackages: [vim]\n", -1);
    g_assert_nonnull(p);
    g_autofree char *f = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "defaults: {pool: p, memory: 4G}\n"
        "guests:\n"
        "  - name: x\n    size: 20G\n    vcpus: 2\n"
        "    cloud-init: {user-data: ./hash-ud, disable: true}\n", 0);
    g_assert_cmpstr(a, !=, f);
    g_free(write_file("hash-ud", "#cloud-config\n", -1));
    g_autofree char *g = hash_of(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "defaults: {pool: p, memory: 4G}\n"
        "guests:\n"
        "  - name: x\n    size: 20G\n    vcpus: 2\n"
        "    cloud-init: {user-data: ./hash-ud, disable: true}\n", 0);
    g_assert_cmpstr(a, ==, g);

    /* Counted guests of one entry are the same guest, hash-wise. */
    g_autofree char *w1 = hash_of(design_example, 0);
    g_autofree char *w9 = hash_of(design_example, 8);
    g_autofree char *db = hash_of(design_example, 10);
    g_assert_cmpstr(w1, ==, w9);
    g_assert_cmpstr(w1, !=, db);

    /* A seed file that vanished after loading is an error, not a hash. */
    g_autoptr(VpLab) lab = parse_ok(
        "lab: h\nhosts: {hv1: 'qemu:///system'}\n"
        "guests: [{name: x, pool: p, size: 1G, cloud-init: {meta-data: gone}}]\n");
    g_autofree char *gone = in_scratch("gone");
    g_unlink(gone);
    g_autoptr(GError) error = NULL;
    g_autofree char *none = vp_lab_guest_options_hash(guest(lab, 0), &error);
    g_assert_null(none);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_free(write_file("gone", "", 0)); /* for a rerun */
}

/* ---------------------------------------------------------------- */
/* URIs that run a local command */

static void
test_uri_check(void)
{
    static const char *const accepted[] = {
        "qemu:///system", "qemu+ssh://root@hv1/system?keyfile=/k&no_tty=1",
        "qemu+tls://hv2/system", "qemu+unix:///session?socket=/run/s",
        "qemu+ssh://h/system?commands=x", "qemu+ssh://h/system?xcommand=y",
        "qemu+ssh://h/system#command=x", "qemu+extra:///system",
        "qemu+ssh://h/system?%2563ommand=x", "test:///default", "ext", "",
    };
    static const char *const refused[] = {
        "qemu+ext:///system", "qemu+EXT:///system", "QEMU+Ext://h/system",
        "qemu+ext:///system?command=/bin/sh", "xen+ext:///",
        "qemu+ssh://h/system?command=/x", "qemu+ssh://h/system?Command=/x",
        "qemu+ssh://h/system?%63ommand=/x", "qemu+ssh://h/system?%43OMMAND",
        "qemu+ssh://h/system?a=b&command", "qemu+ssh://h/system?a=b;command=x",
        "qemu+ssh://h/system?command%00x=1", "qemu+ssh://h/system?command=",
        "qemu+ssh://h/system?a&&command=x#frag",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_autoptr(GError) error = NULL;
        if (!vp_uri_check(accepted[i], &error)) {
            g_test_message("refused: %s: %s", accepted[i], error->message);
            g_test_fail();
        }
    }
    for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
        g_autoptr(GError) error = NULL;
        if (vp_uri_check(refused[i], &error)) {
            g_test_message("accepted: %s", refused[i]);
            g_test_fail();
            continue;
        }
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_assert_nonnull(strstr(error->message, refused[i]));
    }
}

/* Which URIs reach another machine, and the ssh line that logs in there
 * (a missing default pool of a remote session daemon names it). */
static void
test_uri_remote(void)
{
    static const char *const local[] = {
        "qemu:///session", "qemu:///system", "qemu+unix:///session?socket=/s",
        "QEMU+UNIX:///system", "test:///default", "", "not a uri",
    };
    static const char *const remote[] = {
        "qemu+ssh://root@hv1/system", "qemu+ssh://u@127.0.0.1:2222/session",
        "qemu://hv1/session", "qemu+tcp:///session", "qemu+tls://h/session",
        "qemu+libssh2://u@h/session", "qemu+unix://h/session",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(local); i++) {
        g_assert_false(vp_uri_is_remote(local[i]));
    }
    for (gsize i = 0; i < G_N_ELEMENTS(remote); i++) {
        g_assert_true(vp_uri_is_remote(remote[i]));
    }
    g_autofree char *on = vp_uri_on_host("qemu+ssh://u@h:22/session?keyfile=/k");
    g_assert_cmpstr(on, ==, "qemu:///session");
    /* Who may ask on the terminal while a connection opens. */
    g_assert_true(vp_uri_may_prompt(NULL));
    g_assert_true(vp_uri_may_prompt("qemu+ssh://root@hv1/system"));
    g_assert_true(vp_uri_may_prompt("qemu+ssh://root@hv1/system?no_tty=0"));
    g_assert_true(vp_uri_may_prompt("qemu+tls://hv1/system?no_tty=1"));
    g_assert_false(vp_uri_may_prompt("qemu+ssh://root@hv1/system?keyfile=/k&NO_TTY=1"));
    g_assert_false(vp_uri_may_prompt("qemu+libssh2://root@hv1/system?no_tty=1"));
    g_assert_false(vp_uri_may_prompt("qemu:///session"));
    g_assert_false(vp_uri_may_prompt("qemu+unix:///system?socket=/s"));
}

static void
test_uri_ssh_command(void)
{
    static const struct {
        const char *uri;
        const char *want; /* NULL: no ssh line */
    } rows[] = {
        { "qemu+ssh://u@127.0.0.1:2222/session?keyfile=/k/id&no_verify=1&no_tty=1",
          "ssh -p 2222 -i /k/id -o StrictHostKeyChecking=no u@127.0.0.1 'a \"$B\"'" },
        { "qemu+ssh://h/session", "ssh h 'a \"$B\"'" },
        { "qemu+libssh://u@h/session?KeyFile=/my%20key&known_hosts=/kh&no_verify=0",
          "ssh -i '/my key' -o UserKnownHostsFile=/kh u@h 'a \"$B\"'" },
        { "qemu+ssh://o%27b@h/session", "ssh 'o'\\''b@h' 'a \"$B\"'" },
        { "qemu+tcp://h/session", NULL },
        { "qemu+ssh:///session", NULL },
        { "qemu:///session", NULL },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autofree char *got = vp_uri_ssh_command(rows[i].uri, "a \"$B\"");
        g_assert_cmpstr(got, ==, rows[i].want);
    }
}

/* ---------------------------------------------------------------- */
/* Files a manifest names: beneath its folder, regular, bases images */

/* A folder next to the scratch directory, outside the manifest's folder,
 * with a secret in it; "../NAME" from the manifest. */
static char *outside;

static char *
outside_rel(const char *name)
{
    g_autofree char *base = g_path_get_basename(outside);
    return g_build_filename("..", base, name, NULL);
}

static void
write_mode(const char *path, const void *data, gsize len, int mode)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, data, (gssize)len, &error));
    g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

/* A manifest of one guest with KEYS (lines of four spaces' indent) after
 * its name, which is on line 4; KEYS' first line is line 5. */
static char *
one_guest(const char *keys)
{
    return g_strconcat("lab: t\nhosts: {hv1: 'qemu:///system'}\n"
                       "guests:\n  - name: a\n    pool: p\n    size: 1G\n",
                       keys, NULL);
}

static VpLab *
parse_allowed(const char *text, const char *const *allowed, GError **error)
{
    return vp_lab_parse(text, strlen(text), lab_path, allowed, error);
}

static void
expect_reject(const char *keys, const char *const *allowed,
              const char *message, guint line, guint column)
{
    g_autofree char *text = one_guest(keys);
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLab) lab = parse_allowed(text, allowed, &error);
    g_assert_null(lab);
    check_rejected(lab_path, message, line, column, error);
}

static void
test_paths_outside(void)
{
    g_autofree char *kube = outside_rel("kubeconfig");
    g_autofree char *raw = outside_rel("raw-secret.bin");
    g_autofree char *abs_kube = g_build_filename(outside, "kubeconfig", NULL);

    /* "..", an absolute path, a symlink in the folder that leads out */
    g_autofree char *k1 = g_strdup_printf("    cloud-init: {meta-data: %s}\n", kube);
    expect_reject(k1, NULL, "outside the manifest's folder", 7, 29);
    g_autofree char *k2 = g_strdup_printf("    cloud-init: {user-data: %s}\n", abs_kube);
    expect_reject(k2, NULL, "outside the manifest's folder", 7, 29);
    expect_reject("    cloud-init: {network-config: ./leak}\n", NULL,
                  "network-config './leak' resolves to", 7, 34);
    g_autofree char *k3 = g_strdup_printf("    cloud-init: {root-ssh-key: %s}\n", kube);
    expect_reject(k3, NULL, "--allow-path DIR", 7, 32);
    g_autofree char *b1 = g_strdup_printf("    base: %s\n", raw);
    expect_reject(b1, NULL, "base '../", 7, 11);
    expect_reject("    base: ./leak\n", NULL, "outside the manifest's folder", 7, 11);
    /* "..", in and out again, is no way out: real paths count */
    g_autofree char *b2 = g_strdup_printf("    base: ./sub/../%s\n", raw);
    expect_reject(b2, NULL, "outside the manifest's folder", 7, 11);
}

static char *
realpath_of(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *real = realpath(path, NULL);
    g_assert_nonnull(real);
    char *copy = g_strdup(real);
    free(real);
    return copy;
}

static void
test_paths_allowed(void)
{
    const char *const allowed[] = { outside, NULL };
    g_autofree char *kube = outside_rel("kubeconfig");
    g_autofree char *raw = outside_rel("raw-secret.bin");
    g_autofree char *disk = outside_rel("disk.img");
    g_autofree char *real_kube = realpath_of(outside, "kubeconfig");
    g_autofree char *real_disk = realpath_of(outside, "disk.img");

    /* With its folder allowed, a secret is still no base: not an image */
    g_autofree char *b1 = g_strdup_printf("    base: %s\n", raw);
    expect_reject(b1, allowed, "is neither a qcow2 image nor a raw disk image", 7, 11);

    g_autofree char *keys = g_strdup_printf(
        "    base: %s\n    cloud-init: {meta-data: %s, user-data: ./leak}\n", disk, kube);
    g_autofree char *text = one_guest(keys);
    g_autoptr(GError) error = NULL;
    g_autoptr(VpLab) lab = parse_allowed(text, allowed, &error);
    g_assert_no_error(error);
    const VpLabGuest *g = guest(lab, 0);
    /* The real paths are what later code reads; the text stays for the
     * hash. */
    g_assert_cmpstr(g->base_file, ==, real_disk);
    g_assert_cmpstr(opt(g, "base"), ==, disk);
    g_assert_cmpstr(g->cloud_init->meta_data, ==, real_kube);
    g_assert_cmpstr(g->cloud_init->user_data, ==, real_kube);

    /* A base that names a volume is no file */
    g_autoptr(VpLab) vol = parse_ok("lab: t\nhosts: {hv1: 'qemu:///system'}\n"
                                    "guests: [{name: a, pool: p, base: d.qcow2}]\n");
    g_assert_null(guest(vol, 0)->base_file);

    const char *const missing[] = { "/nonexistent/vp-allow", NULL };
    g_autoptr(VpLab) none = parse_allowed(text, missing, &error);
    g_assert_null(none);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_assert_cmpstr(error->message, ==,
                    "--allow-path: cannot use '/nonexistent/vp-allow': No such "
                    "file or directory; give an existing folder");
}

static void
test_base_files(void)
{
    expect_reject("    base: ./no-such.qcow2\n", NULL,
                  "cannot read base file '", 7, 11);
    expect_reject("    base: ./sub\n", NULL, "is not a regular file", 7, 11);
    expect_reject("    base: ./fifo\n", NULL, "is not a regular file", 7, 11);
    expect_reject("    base: /dev/zero\n", (const char *const[]){ "/dev", NULL },
                  "is not a regular file", 7, 11);
    expect_reject("    base: ./empty.img\n", NULL, "is empty", 7, 11);
    expect_reject("    base: ./odd.img\n", NULL,
                  "not a whole number of 512-byte sectors", 7, 11);
    expect_reject("    base: ./text.img\n", NULL,
                  "is neither a qcow2 image nor a raw disk image", 7, 11);
    expect_reject("    base: ./v1.qcow2\n", NULL, "uses qcow2 version 1", 7, 11);

    static const char *const good[] = { "./disk.img", "./ext4.img",
                                        "./image.qcow2", "./link.qcow2" };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *keys = g_strdup_printf("    base: %s\n", good[i]);
        g_autofree char *text = one_guest(keys);
        g_autoptr(VpLab) lab = parse_ok(text);
        g_assert_true(g_path_is_absolute(guest(lab, 0)->base_file));
    }
}

/* The files of the path tests: images good and bad, a FIFO, secrets. */
static void
make_path_files(void)
{
    g_autoptr(GError) error = NULL;
    outside = g_dir_make_tmp("test-manifest-outside-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *kube = g_build_filename(outside, "kubeconfig", NULL);
    g_autofree char *raw = g_build_filename(outside, "raw-secret.bin", NULL);
    g_autofree char *odisk = g_build_filename(outside, "disk.img", NULL);
    g_autofree guint8 *sector = g_malloc0(4096);
    memset(sector, 'k', 4096);
    /* a secret of whole sectors: only its signature could make it a disk */
    write_mode(kube, "apiVersion: v1\n", 15, 0600);
    write_mode(raw, sector, 4096, 0600);
    memset(sector, 0, 4096);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    write_mode(odisk, sector, 4096, 0644);
    g_autofree char *disk = in_scratch("disk.img");
    write_mode(disk, sector, 4096, 0644);
    memset(sector, 0, 4096);
    sector[1080] = 0x53;
    sector[1081] = 0xef;
    g_autofree char *ext4 = in_scratch("ext4.img");
    write_mode(ext4, sector, 4096, 0644);
    g_autofree char *empty = in_scratch("empty.img");
    write_mode(empty, "", 0, 0644);
    g_autofree char *odd = in_scratch("odd.img");
    write_mode(odd, sector, 1000, 0644);
    g_autofree char *text = in_scratch("text.img");
    memset(sector, 'x', 4096);
    write_mode(text, sector, 4096, 0644);
    /* qcow2 magic, version 1 */
    static const guint8 v1[512] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 1 };
    g_autofree char *v1_path = in_scratch("v1.qcow2");
    write_mode(v1_path, v1, sizeof(v1), 0644);

    VpImageOptions o;
    VpQcow2Layout l;
    vp_image_options_init(&o);
    o.size = 1 << 20;
    o.preallocation = VP_PREALLOC_OFF;
    g_assert_true(vp_qcow2_layout_compute(&o, &l, &error));
    g_autofree char *qcow2 = in_scratch("image.qcow2");
    VpSink *sink = vp_file_sink_new(qcow2, TRUE, &error);
    g_assert_nonnull(sink);
    g_assert_true(vp_image_emit(&l, sink, NULL, &error));
    vp_sink_free(sink);

    g_autofree char *fifo = in_scratch("fifo");
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_autofree char *leak = in_scratch("leak");
    g_assert_cmpint(symlink(kube, leak), ==, 0);
    g_autofree char *link = in_scratch("link.qcow2");
    g_assert_cmpint(symlink("image.qcow2", link), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_autoptr(GError) error = NULL;
    scratch = g_dir_make_tmp("test-manifest-XXXXXX", &error);
    g_assert_no_error(error);
    lab_path = g_build_filename(scratch, "lab.yaml", NULL);
    g_autofree char *sub = g_build_filename(scratch, "sub", NULL);
    g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
    g_free(write_file("user-data", "#cloud-config\n", -1));
    g_free(write_file("sub/meta-data", "instance-id: x\n", -1));
    g_free(write_file("hash-ud", "#cloud-config\n", -1));
    g_free(write_file("gone", "", 0));

    g_test_add_func("/manifest/accept/design-example", test_design_example);
    g_test_add_func("/manifest/accept/json", test_json);
    g_test_add_func("/manifest/accept/defaults-merge", test_defaults_merge);
    g_test_add_func("/manifest/accept/count-order", test_count_order);
    g_test_add_func("/manifest/accept/pins", test_pins);
    g_test_add_func("/manifest/accept/every-key", test_every_key);
    g_test_add_func("/manifest/accept/networks", test_networks);
    for (gsize i = 0; i < G_N_ELEMENTS(rejected); i++) {
        g_autofree char *path = g_strdup_printf("/manifest/reject/%s",
                                                rejected[i].id);
        g_test_add_data_func(path, &rejected[i], test_rejected);
    }
    g_test_add_func("/manifest/reject/too-large", test_load_too_large);
    g_test_add_func("/manifest/load", test_load);
    g_test_add_func("/manifest/hash", test_hash);
    make_path_files();
    g_test_add_func("/uri/check", test_uri_check);
    g_test_add_func("/uri/remote", test_uri_remote);
    g_test_add_func("/uri/ssh-command", test_uri_ssh_command);
    g_test_add_func("/manifest/paths/outside", test_paths_outside);
    g_test_add_func("/manifest/paths/allowed", test_paths_allowed);
    g_test_add_func("/manifest/paths/base-files", test_base_files);

    int rc = g_test_run();
    /* The scratch files, then the directories. */
    static const char *const files[] = { "user-data", "sub/meta-data",
                                         "hash-ud", "gone", "lab.yaml", "key.pub",
                                         "sub", "disk.img", "ext4.img",
                                         "empty.img", "odd.img", "text.img",
                                         "v1.qcow2", "image.qcow2", "fifo",
                                         "leak", "link.qcow2" };
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(scratch, files[i], NULL);
        g_remove(path);
    }
    g_rmdir(scratch);
    static const char *const secrets[] = { "kubeconfig", "raw-secret.bin",
                                           "disk.img" };
    for (gsize i = 0; i < G_N_ELEMENTS(secrets); i++) {
        g_autofree char *path = g_build_filename(outside, secrets[i], NULL);
        g_remove(path);
    }
    g_rmdir(outside);
    g_free(outside);
    g_free(lab_path);
    g_free(scratch);
    return rc;
}
