/* The NoCloud seed: option parsing as a table, load failures, generated
 * YAML read back with libfyaml, the multipart, and ISO determinism. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libfyaml.h>

#include "error.h"
#include "seed.h"
#include "yaml-util.h"

/* A scratch directory, and HOME inside it, set before GLib caches the home
 * directory: the seed reads ~/.ssh/id_*.pub. */
static char *scratch;

#define KEY_BLOB "AAAAC3NzaC1lZDI1NTE5AAAAIBZuQRyCzxEDu3KWtpWueE/dgzs39sPYI85hbpHqTot7"
#define KEY_LINE "ssh-ed25519 " KEY_BLOB " me@home"
/* A comment full of shell and YAML metacharacters; a key line cannot hold
 * a newline, so that is the hostname's job. */
#define HOSTILE_COMMENT "o'neil\"$(x);&|<>#: - ? {a} [b] \\n !tag *al &an %d `t`"
#define HOSTILE_KEY "ssh-ed25519 " KEY_BLOB " " HOSTILE_COMMENT
/* Certificates as ssh-keygen -s writes them beside id_*.pub: the type,
 * then a blob that starts with it (the rest of a real one elided). */
#define CERT_LINE                                                           \
    "ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9w" \
    "ZW5zc2guY29tAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f me@home"
#define ECDSA_CERT_LINE                                                     \
    "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAy" \
    "NTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGB" \
    "kaGxwdHh8= me@home"
#define HOSTILE_HOST "web\"1'\n#x: y\n- z\t$;&|<>\\"

static char *
write_file(const char *name, const char *text, gssize len)
{
    char *path = g_build_filename(scratch, name, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, text, len, &error));
    g_assert_no_error(error);
    return path;
}

/* ---------------------------------------------------------------- */
/* Options */

typedef struct {
    const char *text;
    const char *user_data;
    const char *meta_data;
    const char *network_config;
    const char *root_key;
    const char *user_key;
    gboolean disable;
} AcceptedCase;

static const AcceptedCase accepted[] = {
    { .text = "" },
    { .text = "user-data=u.yaml", .user_data = "u.yaml" },
    { .text = "meta-data=m,user-data=u", .user_data = "u", .meta_data = "m" },
    { .text = "network-config=n.yaml", .network_config = "n.yaml" },
    { .text = "root-ssh-key=r.pub,clouduser-ssh-key=c.pub",
      .root_key = "r.pub", .user_key = "c.pub" },
    { .text = "disable=on", .disable = TRUE },
    { .text = "disable=yes", .disable = TRUE },
    { .text = "disable=TRUE", .disable = TRUE },
    { .text = "disable=off" },
    { .text = "disable=no" },
    { .text = "disable=false" },
    { .text = "user-data=a=b", .user_data = "a=b" }, /* the first '=' splits */
    { .text = "user-data=/x y/\u00e9", .user_data = "/x y/\u00e9" },
    { .text = "user-data=u,meta-data=m,network-config=n,root-ssh-key=r,"
              "clouduser-ssh-key=c,disable=on",
      .user_data = "u", .meta_data = "m", .network_config = "n",
      .root_key = "r", .user_key = "c", .disable = TRUE },
};

typedef struct {
    const char *text;
    const char *message; /* a substring of the message */
} RejectedCase;

static const RejectedCase rejected[] = {
    { "user_data=u", "'user_data'" },
    { "userdata=u", "use user-data, meta-data" },
    { "User-Data=u", "'User-Data'" },
    { "user-data=a,user-data=b", "'user-data' is given twice" },
    { "disable=on,disable=off", "'disable' is given twice" },
    { "user-data=", "user-data=FILE" },
    { "user-data", "user-data=FILE" },
    { "disable", "disable=on" },
    { "disable=", "disable=on" },
    { "disable=maybe", "disable='maybe'" },
    { "disable=1", "disable='1'" },
    { "user-data=u,", "extra comma" },
    { ",user-data=u", "extra comma" },
    { "user-data=u,,meta-data=m", "extra comma" },
    { "=u", "''" },
};

static void
test_options_accepted(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        const AcceptedCase *c = &accepted[i];
        g_autoptr(GError) error = NULL;
        g_auto(VpSeedOptions) opts = { .user_data = g_strdup("old") };
        g_test_message("accept '%s'", c->text);
        g_assert_true(vp_seed_options_parse(c->text, &opts, &error));
        g_assert_no_error(error);
        g_assert_cmpstr(opts.user_data, ==, c->user_data);
        g_assert_cmpstr(opts.meta_data, ==, c->meta_data);
        g_assert_cmpstr(opts.network_config, ==, c->network_config);
        g_assert_cmpstr(opts.root_ssh_key, ==, c->root_key);
        g_assert_cmpstr(opts.clouduser_ssh_key, ==, c->user_key);
        g_assert_cmpint(opts.disable, ==, c->disable);
    }
    g_auto(VpSeedOptions) opts = { 0 };
    g_assert_true(vp_seed_options_parse(NULL, &opts, NULL));
    g_assert_null(opts.user_data);
}

static void
test_options_rejected(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(rejected); i++) {
        const RejectedCase *c = &rejected[i];
        g_autoptr(GError) error = NULL;
        g_auto(VpSeedOptions) opts = { .user_data = g_strdup("kept") };
        g_test_message("reject '%s'", c->text);
        g_assert_false(vp_seed_options_parse(c->text, &opts, &error));
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_test_message("  -> %s", error->message);
        g_assert_nonnull(strstr(error->message, c->message));
        g_assert_null(strchr(error->message, '\n'));
        /* The core speaks of the thing, never of the option. */
        g_assert_null(strstr(error->message, "--cloud-init"));
        /* A failed parse leaves the options as they were. */
        g_assert_cmpstr(opts.user_data, ==, "kept");
    }
}

/* ---------------------------------------------------------------- */
/* Loading failures */

typedef struct {
    const char *name;
    const char *file;   /* the file's name in scratch */
    const char *text;   /* its contents; NULL: do not create it */
    gssize len;         /* -1: strlen */
    const char *option; /* the seed option naming it */
    const char *message;
} LoadFailure;

#define BOMB                                                              \
    "#cloud-config\n"                                                      \
    "a: &a [x, x, x, x, x, x, x, x, x]\n"                                   \
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"                          \
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"                          \
    "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"

static const LoadFailure load_failures[] = {
    { "missing", "nope.yaml", NULL, -1, "user-data", "No such file" },
    { "directory", ".", NULL, -1, "meta-data", "cannot read meta-data" },
    { "not-utf8", "latin1.yaml", "#cloud-config\nname: caf\xe9\n", -1,
      "user-data", "is not UTF-8" },
    { "nul-byte", "nul.yaml", "#cloud-config\na: b\0c\n", 20, "user-data",
      "is not UTF-8" },
    { "empty-user-data", "empty-ud", "", -1, "user-data", "is empty" },
    { "neither", "plain.txt", "hello: world\n", -1, "user-data",
      "neither cloud-config nor a script" },
    { "cloud-config-archive", "arch", "#cloud-config-archive\n- a\n", -1,
      "user-data", "neither cloud-config nor a script" },
    { "cloud-config-bad-yaml", "bad.yaml", "#cloud-config\na: [1\n", -1,
      "user-data", "is not valid YAML: line" },
    { "cloud-config-list", "list.yaml", "#cloud-config\n- a\n", -1,
      "user-data", "is not a YAML mapping" },
    { "cloud-config-empty", "cc-empty", "#cloud-config\n", -1, "user-data",
      "is not a YAML mapping" },
    { "cloud-config-two-docs", "two.yaml", "#cloud-config\na: 1\n---\nb: 2\n",
      -1, "user-data", "holds 2 YAML documents" },
    { "cloud-config-dup", "dup.yaml", "#cloud-config\na: 1\na: 2\n", -1,
      "user-data", "duplicate key" },
    { "mime-not-multipart", "mime1", "Content-Type: text/plain\nMIME-Version: 1.0\n\nx\n",
      -1, "user-data", "not multipart" },
    { "mime-no-version", "mime2", "Content-Type: multipart/mixed; boundary=x\n\n--x--\n",
      -1, "user-data", "MIME-Version" },
    { "meta-data-bad-yaml", "md-bad", "instance-id: [\n", -1, "meta-data",
      "is not valid YAML" },
    { "meta-data-scalar", "md-scalar", "just text\n", -1, "meta-data",
      "is not a YAML mapping" },
    { "meta-data-list", "md-list", "[1, 2]\n", -1, "meta-data",
      "is not a YAML mapping" },
    { "network-config-empty", "nc-empty", "", -1, "network-config",
      "is not a YAML mapping" },
    { "network-config-list", "nc-list", "- eth0\n", -1, "network-config",
      "is not a YAML mapping" },
    /* Anchors and aliases are refused where they appear: resolving a
     * document copies what an alias names (BOMB: 9^4 scalars from 150
     * bytes; the same at 9^9 costs gigabytes). */
    { "cloud-config-anchor", "anchor.yaml", "#cloud-config\na: &x 1\n", -1,
      "user-data", "line 2, column 4: YAML anchors ('&name') are not allowed" },
    { "cloud-config-alias", "alias.yaml", "#cloud-config\na: [1, *x]\n", -1,
      "user-data", "line 2, column 8: YAML aliases ('*name') are not allowed" },
    { "cloud-config-alias-bomb", "bomb.yaml", BOMB, -1, "user-data",
      "line 2, column 4: YAML anchors" },
    { "meta-data-alias", "md-alias", "a: &x 1\nb: *x\n", -1, "meta-data",
      "line 1, column 4: YAML anchors" },
    { "network-config-alias", "nc-alias",
      "version: 2\nethernets: {e: &x {dhcp4: true}, f: *x}\n", -1,
      "network-config", "line 2, column 16: YAML anchors" },
    { "network-config-tagged-anchor", "nc-tag", "a: !!str &x b\n", -1,
      "network-config", "line 1, column 10: YAML anchors" },
    { "key-garbage", "garbage.pub", "hello world\n", -1, "root-ssh-key",
      "line 1 is not an OpenSSH public key" },
    { "key-second-line", "second.pub", KEY_LINE "\nssh-rsa AAAA\n", -1,
      "clouduser-ssh-key", "line 2 is not an OpenSSH public key" },
    { "key-wrong-type", "type.pub", "ssh-rsa " KEY_BLOB " x\n", -1,
      "root-ssh-key", "is not an OpenSSH public key" },
    { "key-bad-base64", "b64.pub", "ssh-ed25519 AAAA!!!! x\n", -1,
      "root-ssh-key", "is not an OpenSSH public key" },
    { "key-private", "id_ed25519",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", -1,
      "clouduser-ssh-key", "holds a private key" },
    { "key-certificate", "id_ed25519-cert.pub", CERT_LINE "\n", -1,
      "root-ssh-key", "line 1 is a certificate" },
    { "key-ecdsa-certificate", "ecdsa.pub", KEY_LINE "\n" ECDSA_CERT_LINE "\n", -1,
      "clouduser-ssh-key", "line 2 is a certificate" },
    { "key-none", "blank.pub", "\n# only a comment\n\n", -1, "root-ssh-key",
      "holds no public key" },
};

static void
test_load_failure(gconstpointer data)
{
    const LoadFailure *c = data;
    g_autofree char *path = NULL;
    if (c->text != NULL) {
        path = write_file(c->file, c->text, c->len);
    } else {
        path = g_build_filename(scratch, c->file, NULL);
    }
    g_autofree char *text = g_strdup_printf("%s=%s", c->option, path);
    g_auto(VpSeedOptions) opts = { 0 };
    g_assert_true(vp_seed_options_parse(text, &opts, NULL));
    /* meta-data and network-config cases need a valid user-data beside. */
    if (opts.user_data == NULL) {
        opts.user_data = write_file("ok-ud", "#!/bin/sh\ntrue\n", -1);
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(VpSeed) seed = vp_seed_load(&opts, "web", "iid", &error);
    g_assert_null(seed);
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, c->message));
    g_assert_nonnull(strstr(error->message, path));
    g_assert_null(strchr(error->message, '\n'));
}

static void
test_load_too_large(void)
{
    static const struct {
        const char *option;
        gsize limit;
        const char *cap;
    } cases[] = {
        { "user-data", VP_SEED_MAX_FILE, "1 MiB" },
        { "meta-data", VP_SEED_MAX_FILE, "1 MiB" },
        { "network-config", VP_SEED_MAX_FILE, "1 MiB" },
        { "root-ssh-key", VP_SEED_MAX_KEY_FILE, "16 KiB" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        /* One byte over the cap; comments are valid in every kind. */
        gsize len = cases[i].limit + 1;
        g_autofree char *big = g_malloc(len);
        memset(big, '#', len);
        big[len - 1] = '\n';
        g_autofree char *path = write_file("big", big, (gssize)len);
        g_autofree char *text = g_strdup_printf("%s=%s", cases[i].option, path);
        g_auto(VpSeedOptions) opts = { 0 };
        g_assert_true(vp_seed_options_parse(text, &opts, NULL));
        g_autoptr(GError) error = NULL;
        g_autoptr(VpSeed) seed = vp_seed_load(&opts, "web", "iid", &error);
        g_assert_null(seed);
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_test_message("%s", error->message);
        g_assert_nonnull(strstr(error->message, "larger than the limit"));
        g_assert_nonnull(strstr(error->message, cases[i].cap));
        g_assert_true(strstr(error->message, cases[i].option) != NULL ||
                      strstr(error->message, "SSH key file") != NULL);
    }
}

static void
test_load_bad_names(void)
{
    static const struct {
        const char *hostname;
        const char *instance_id;
        const char *message;
    } cases[] = {
        { "", "iid", "local-hostname is empty" },
        { "web", "", "instance-id is empty" },
        { " web", "iid", "begins or ends with a space" },
        { "web ", "iid", "begins or ends with a space" },
        { "web", "iid ", "begins or ends with a space" },
        { "caf\xe9", "iid", "not UTF-8" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        VpSeedOptions opts = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(VpSeed) seed = vp_seed_load(&opts, cases[i].hostname,
                                              cases[i].instance_id, &error);
        g_assert_null(seed);
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_assert_nonnull(strstr(error->message, cases[i].message));
    }
}

/* ---------------------------------------------------------------- */
/* What the seed holds */

static struct fy_document *
parse(GBytes *bytes)
{
    gsize len = 0;
    const char *text = g_bytes_get_data(bytes, &len);
    struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET };
    struct fy_document *doc = fy_document_build_from_string(&cfg, text, len);
    g_assert_nonnull(doc);
    g_assert_true(fy_node_is_mapping(fy_document_root(doc)));
    return doc;
}

/* The scalar at PATH (libfyaml's "/a/0/b" paths), exactly. */
static void
assert_scalar(struct fy_document *doc, const char *path, const char *want)
{
    struct fy_node *node = fy_node_by_path(fy_document_root(doc), path,
                                           FY_NT, FYNWF_DONT_FOLLOW);
    g_test_message("%s", path);
    g_assert_nonnull(node);
    size_t len = 0;
    const char *got = fy_node_get_scalar(node, &len);
    g_assert_nonnull(got);
    g_assert_cmpmem(got, len, want, strlen(want));
}

static gboolean
has_path(struct fy_document *doc, const char *path)
{
    return fy_node_by_path(fy_document_root(doc), path, FY_NT,
                           FYNWF_DONT_FOLLOW) != NULL;
}

static VpSeed *
load(const char *options, const char *hostname)
{
    g_auto(VpSeedOptions) opts = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(vp_seed_options_parse(options, &opts, &error));
    VpSeed *seed = vp_seed_load(&opts, hostname, "iid-\"42\"\n#", &error);
    g_assert_no_error(error);
    g_assert_nonnull(seed);
    return seed;
}

static void
test_meta_data(void)
{
    static const struct {
        const char *name;
        const char *text;     /* NULL: no meta-data file */
        const char *instance; /* instance-id expected */
        gboolean kept;        /* the user's bytes unchanged */
        const char *extra;    /* a user's key that must survive, or NULL */
    } cases[] = {
        { "none", NULL, "iid-\"42\"\n#", FALSE, NULL },
        { "empty", "", "iid-\"42\"\n#", FALSE, NULL },
        { "comments", "# nothing here\n", "iid-\"42\"\n#", FALSE, NULL },
        { "lacks-id", "local-hostname: mine\nregion: 'a#b'\n", "iid-\"42\"\n#",
          FALSE, "/region" },
        { "json", "{\"public-keys\": [\"x\"], \"local-hostname\": \"h\"}",
          "iid-\"42\"\n#", FALSE, "/public-keys/0" },
        { "has-both", "instance-id: theirs\nlocal-hostname: mine # c\n",
          "theirs", TRUE, NULL },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("meta-data %s", cases[i].name);
        g_autofree char *options = NULL;
        g_autofree char *ud = write_file("ud.sh", "#!/bin/sh\n", -1);
        g_autofree char *md = NULL;
        if (cases[i].text != NULL) {
            md = write_file("md.yaml", cases[i].text, -1);
            options = g_strdup_printf("user-data=%s,meta-data=%s", ud, md);
        } else {
            options = g_strdup_printf("user-data=%s", ud);
        }
        g_autoptr(VpSeed) seed = load(options, HOSTILE_HOST);
        GBytes *bytes = vp_seed_get_meta_data(seed);
        struct fy_document *doc = parse(bytes);
        assert_scalar(doc, "/instance-id", cases[i].instance);
        if (cases[i].text == NULL || strstr(cases[i].text, "hostname") == NULL) {
            assert_scalar(doc, "/local-hostname", HOSTILE_HOST);
        }
        if (cases[i].extra != NULL) {
            g_assert_true(has_path(doc, cases[i].extra));
        }
        if (cases[i].text != NULL && strstr(cases[i].text, "mine") != NULL) {
            assert_scalar(doc, "/local-hostname", "mine");
        }
        if (cases[i].kept) {
            g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                            cases[i].text, strlen(cases[i].text));
        }
        fy_document_destroy(doc);
    }
}

/* No user-data: the generated cloud-config reads back to exactly the
 * hostile values. */
static void
test_generated_bare(void)
{
    g_autoptr(VpSeed) seed = load("", HOSTILE_HOST);
    GBytes *ud = vp_seed_get_user_data(seed);
    g_assert_true(g_str_has_prefix(g_bytes_get_data(ud, NULL), "#cloud-config\n"));
    struct fy_document *doc = parse(ud);
    assert_scalar(doc, "/hostname", HOSTILE_HOST);
    assert_scalar(doc, "/preserve_hostname", "false");
    /* The home key of main(), whose comment is hostile. */
    assert_scalar(doc, "/ssh_authorized_keys/0", HOSTILE_KEY);
    g_assert_false(has_path(doc, "/ssh_authorized_keys/1"));
    g_assert_false(has_path(doc, "/users"));
    g_assert_false(has_path(doc, "/runcmd"));
    g_assert_false(has_path(doc, "/merge_how"));
    fy_document_destroy(doc);
}

/* A bare seed with certificates in ~/.ssh (ssh-keygen -s writes
 * id_*-cert.pub beside the key): they are skipped, as ssh-copy-id skips
 * them, and the plain key is used. */
static void
test_generated_home_certificates(void)
{
    g_autofree char *cert = write_file(".ssh/id_ed25519-cert.pub",
                                       CERT_LINE "\n", -1);
    /* A certificate under a plain key's name, and the same beside a key. */
    g_autofree char *misnamed = write_file(".ssh/id_ecdsa.pub",
                                           ECDSA_CERT_LINE "\n", -1);
    g_autofree char *mixed = write_file(".ssh/id_x.pub",
                                        "# two\n" ECDSA_CERT_LINE "\n" KEY_LINE "\n",
                                        -1);
    g_autoptr(VpSeed) seed = load("", "web");
    struct fy_document *doc = parse(vp_seed_get_user_data(seed));
    assert_scalar(doc, "/ssh_authorized_keys/0", HOSTILE_KEY);
    assert_scalar(doc, "/ssh_authorized_keys/1", KEY_LINE);
    g_assert_false(has_path(doc, "/ssh_authorized_keys/2"));
    fy_document_destroy(doc);
    g_assert_cmpint(g_unlink(cert), ==, 0);
    g_assert_cmpint(g_unlink(misnamed), ==, 0);
    g_assert_cmpint(g_unlink(mixed), ==, 0);
}

static void
test_generated_keys(void)
{
    g_autofree char *root = write_file("root.pub",
                                       "# root's keys\r\n" HOSTILE_KEY "\r\n\r\n"
                                       "  " KEY_LINE "  \n", -1);
    g_autofree char *user = write_file("user.pub", KEY_LINE, -1);
    g_autofree char *options = g_strdup_printf(
        "root-ssh-key=%s,clouduser-ssh-key=%s,disable=on", root, user);
    g_autoptr(VpSeed) seed = load(options, "web");
    struct fy_document *doc = parse(vp_seed_get_user_data(seed));
    assert_scalar(doc, "/hostname", "web");
    assert_scalar(doc, "/ssh_authorized_keys/0", KEY_LINE);
    g_assert_false(has_path(doc, "/ssh_authorized_keys/1"));
    assert_scalar(doc, "/users/0", "default");
    assert_scalar(doc, "/users/1/name", "root");
    assert_scalar(doc, "/users/1/ssh_authorized_keys/0", HOSTILE_KEY);
    assert_scalar(doc, "/users/1/ssh_authorized_keys/1", KEY_LINE);
    assert_scalar(doc, "/disable_root", "false");
    assert_scalar(doc, "/runcmd/0/0", "touch");
    assert_scalar(doc, "/runcmd/0/1", "/etc/cloud/cloud-init.disabled");
    fy_document_destroy(doc);
}

/* A user's file alone goes in unchanged. */
static void
test_user_data_kept(void)
{
    static const char *const texts[] = {
        "#cloud-config\npackages: [nginx]\n# comment stays\n",
        "#!/bin/sh\necho 'hi'\n",
        "#include\nhttps://example.com/ud\n",
        "#include-once https://example.com/ud\n",
        ("Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n"
         "--b\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n--b--\n"),
    };
    for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
        g_autofree char *ud = write_file("ud", texts[i], -1);
        g_autofree char *options = g_strdup_printf("user-data=%s", ud);
        g_autoptr(VpSeed) seed = load(options, "web");
        GBytes *bytes = vp_seed_get_user_data(seed);
        g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                        texts[i], strlen(texts[i]));
    }
}

/* Parts of a multipart/mixed message, decoded: { type, body } pairs.  A
 * small reader of exactly what vp_seed_load() writes; seed_iso.py checks
 * the same message with Python's email package. */
static GPtrArray *
mime_parts(const char *message, char **boundary_out)
{
    const char *b = strstr(message, "boundary=\"");
    g_assert_nonnull(b);
    b += strlen("boundary=\"");
    g_autofree char *boundary = g_strndup(b, strcspn(b, "\""));
    g_autofree char *delim = g_strconcat("\n--", boundary, NULL);
    GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
    const char *at = strstr(message, delim);
    while (at != NULL) {
        at += strlen(delim);
        if (g_str_has_prefix(at, "--")) {
            break;
        }
        const char *next = strstr(at, delim);
        g_assert_nonnull(next);
        g_autofree char *part = g_strndup(at + 1, next - at - 1);
        char *body = strstr(part, "\n\n");
        g_assert_nonnull(body);
        *body = '\0';
        body += 2;
        const char *type = strstr(part, "Content-Type: ");
        g_assert_nonnull(type);
        type += strlen("Content-Type: ");
        g_ptr_array_add(parts, g_strndup(type, strcspn(type, ";\n")));
        if (strstr(part, "Content-Transfer-Encoding: base64") != NULL) {
            gsize len = 0;
            guchar *raw = g_base64_decode(body, &len);
            g_ptr_array_add(parts, g_strndup((char *)raw, len));
            g_free(raw);
        } else {
            g_ptr_array_add(parts, g_strdup(body));
        }
        at = next;
    }
    if (boundary_out != NULL) {
        *boundary_out = g_steal_pointer(&boundary);
    }
    return parts;
}

static void
test_multipart(void)
{
    static const struct {
        const char *text;
        const char *type;
        gboolean has_users; /* the user's part lists its own users */
    } cases[] = {
        { "#cloud-config\nssh_authorized_keys: [mine]\nruncmd: [[ls]]\n",
          "text/cloud-config", FALSE },
        { "#cloud-config\nusers: [alice]\n", "text/cloud-config", TRUE },
        { "#!/bin/bash\necho \"--==virt-provision-seed-0==\"\n",
          "text/x-shellscript", FALSE },
        { "#include\nhttps://example.com/x\n", "text/x-include-url", FALSE },
    };
    g_autofree char *root = write_file("root.pub", HOSTILE_KEY "\n", -1);
    g_autofree char *user = write_file("user.pub", KEY_LINE "\n", -1);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *ud = write_file("ud", cases[i].text, -1);
        g_autofree char *options = g_strdup_printf(
            "user-data=%s,root-ssh-key=%s,clouduser-ssh-key=%s,disable=on",
            ud, root, user);
        g_autoptr(VpSeed) seed = load(options, HOSTILE_HOST);
        g_autofree char *message = g_strndup(
            g_bytes_get_data(vp_seed_get_user_data(seed), NULL),
            g_bytes_get_size(vp_seed_get_user_data(seed)));
        g_assert_true(g_str_has_prefix(message, "Content-Type: multipart/mixed;"));
        g_assert_nonnull(strstr(message, "\nMIME-Version: 1.0\n"));
        g_autofree char *boundary = NULL;
        g_autoptr(GPtrArray) parts = mime_parts(message, &boundary);
        /* The boundary steers clear of the user's text. */
        g_assert_null(strstr(cases[i].text, boundary));
        g_assert_cmpuint(parts->len, ==, 4);
        g_assert_cmpstr(g_ptr_array_index(parts, 0), ==, cases[i].type);
        g_assert_cmpstr(g_ptr_array_index(parts, 1), ==, cases[i].text);
        g_assert_cmpstr(g_ptr_array_index(parts, 2), ==, "text/cloud-config");
        const char *ours = g_ptr_array_index(parts, 3);
        g_assert_true(g_str_has_prefix(ours, "#cloud-config\n"));
        g_autoptr(GBytes) ours_bytes = g_bytes_new(ours, strlen(ours));
        struct fy_document *doc = parse(ours_bytes);
        assert_scalar(doc, "/merge_how",
                      "list(append)+dict(no_replace,recurse_list)+str()");
        /* With a user's file the hostname is meta-data's business. */
        g_assert_false(has_path(doc, "/hostname"));
        assert_scalar(doc, "/ssh_authorized_keys/0", KEY_LINE);
        const char *root_at = cases[i].has_users ? "/users/0" : "/users/1";
        if (!cases[i].has_users) {
            assert_scalar(doc, "/users/0", "default");
        }
        g_autofree char *name = g_strconcat(root_at, "/name", NULL);
        g_autofree char *key = g_strconcat(root_at, "/ssh_authorized_keys/0", NULL);
        assert_scalar(doc, name, "root");
        assert_scalar(doc, key, HOSTILE_KEY);
        assert_scalar(doc, "/disable_root", "false");
        assert_scalar(doc, "/runcmd/0/1", "/etc/cloud/cloud-init.disabled");
        fy_document_destroy(doc);
    }
}

/* A user's multipart is nested as it is. */
static void
test_multipart_nested(void)
{
    const char *text =
        "Content-Type: multipart/mixed; boundary=\"==virt-provision-seed-0==\"\n"
        "MIME-Version: 1.0\n\n"
        "--==virt-provision-seed-0==\nContent-Type: text/x-shellscript\n\n"
        "#!/bin/sh\ntrue\n--==virt-provision-seed-0==--\n";
    g_autofree char *ud = write_file("ud", text, -1);
    g_autofree char *options = g_strdup_printf("user-data=%s,disable=on", ud);
    g_autoptr(VpSeed) seed = load(options, "web");
    g_autofree char *message = g_strndup(
        g_bytes_get_data(vp_seed_get_user_data(seed), NULL),
        g_bytes_get_size(vp_seed_get_user_data(seed)));
    g_assert_nonnull(strstr(message, "boundary=\"==virt-provision-seed-1==\""));
    g_assert_nonnull(strstr(message, text));
}

static void
test_iso_deterministic(void)
{
    g_autofree char *nc = write_file("nc.yaml", "version: 2\nethernets: {}\n", -1);
    g_autofree char *options = g_strdup_printf("network-config=%s", nc);
    g_autoptr(GBytes) first = NULL;
    for (int run = 0; run < 2; run++) {
        g_autoptr(VpSeed) seed = load(options, HOSTILE_HOST);
        g_autoptr(GError) error = NULL;
        g_autoptr(GBytes) iso = vp_seed_iso(seed, &error);
        g_assert_no_error(error);
        g_assert_nonnull(iso);
        g_assert_cmpuint(g_bytes_get_size(iso) % 2048, ==, 0);
        /* The primary volume descriptor at sector 16, its id "cidata". */
        const guint8 *pvd = (const guint8 *)g_bytes_get_data(iso, NULL) + 16 * 2048;
        g_assert_cmpmem(pvd + 1, 5, "CD001", 5);
        g_assert_cmpmem(pvd + 40, 6, "cidata", 6);
        if (first == NULL) {
            first = g_bytes_ref(iso);
            /* A different second for any clock the image would carry. */
            g_usleep(1100 * 1000);
        } else {
            g_assert_true(g_bytes_equal(first, iso));
        }
    }
}

/* Files loaded once serve every seed made from them, from several threads
 * at once, and are not read again: the seeds hold what was loaded even
 * after the files change on disk. */
typedef struct {
    const VpSeedOptions *opts;
    guint n;
} OnceJob;

static gpointer
files_once_thread(gpointer data)
{
    const OnceJob *job = data;
    for (guint i = 0; i < 50; i++) {
        g_autofree char *name = g_strdup_printf("web-%u-%u", job->n, i);
        g_autoptr(GError) error = NULL;
        g_autoptr(VpSeed) seed = vp_seed_load(job->opts, name, "iid", &error);
        g_assert_no_error(error);
        struct fy_document *doc = parse(vp_seed_get_meta_data(seed));
        assert_scalar(doc, "/local-hostname", name);
        assert_scalar(doc, "/region", "a#b");
        fy_document_destroy(doc);
        GBytes *ud = vp_seed_get_user_data(seed);
        g_assert_nonnull(g_strstr_len(g_bytes_get_data(ud, NULL),
                                      (gssize)g_bytes_get_size(ud),
                                      "Content-Type: multipart/mixed"));
    }
    return NULL;
}

static void
test_files_once(void)
{
    g_autofree char *ud = write_file("once-ud", "#cloud-config\npackages: [vim]\n", -1);
    g_autofree char *md = write_file("once-md", "region: 'a#b'\n", -1);
    g_autofree char *nc = write_file("once-nc", "version: 2\n", -1);
    g_autofree char *key = write_file("once.pub", KEY_LINE "\n", -1);
    g_autofree char *options = g_strdup_printf(
        "user-data=%s,meta-data=%s,network-config=%s,root-ssh-key=%s",
        ud, md, nc, key);
    g_auto(VpSeedOptions) opts = { 0 };
    g_assert_true(vp_seed_options_parse(options, &opts, NULL));
    g_autoptr(GError) error = NULL;
    opts.files = vp_seed_files_load(&opts, &error);
    g_assert_no_error(error);
    g_assert_nonnull(opts.files);

    /* Different on disk now, and unreadable as a seed file. */
    g_free(write_file("once-ud", "not cloud-config", -1));
    g_free(write_file("once-md", "- a list\n", -1));
    g_assert_cmpint(g_unlink(nc), ==, 0);
    g_assert_cmpint(g_unlink(key), ==, 0);

    OnceJob jobs[4];
    GThread *threads[G_N_ELEMENTS(jobs)];
    for (guint t = 0; t < G_N_ELEMENTS(jobs); t++) {
        jobs[t] = (OnceJob){ .opts = &opts, .n = t };
        threads[t] = g_thread_new("seed", files_once_thread, &jobs[t]);
    }
    for (guint t = 0; t < G_N_ELEMENTS(jobs); t++) {
        g_thread_join(threads[t]);
    }
    g_autoptr(VpSeed) seed = vp_seed_load(&opts, "web", "iid", &error);
    g_assert_no_error(error);
    GBytes *got = vp_seed_get_network_config(seed);
    g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got),
                    "version: 2\n", 11);

    /* Options that name other files do not share them. */
    g_auto(VpSeedOptions) other = { .user_data = g_strdup(ud) };
    g_assert_true(vp_seed_options_same_files(&opts, &opts));
    g_assert_false(vp_seed_options_same_files(&opts, &other));
}

/* ---------------------------------------------------------------- */
/* Nesting, checked before libfyaml */

/* The deepest nesting of TEXT's events by libfyaml, the oracle of which
 * brackets are collections; -1 when TEXT is not valid YAML. */
static int
event_depth(const char *text)
{
    struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET };
    struct fy_parser *parser = fy_parser_create(&cfg);
    g_assert_nonnull(parser);
    g_assert_cmpint(fy_parser_set_string(parser, text, strlen(text)), ==, 0);
    int depth = 0;
    int deepest = 0;
    for (struct fy_event *ev; (ev = fy_parser_parse(parser)) != NULL;) {
        if (ev->type == FYET_SEQUENCE_START || ev->type == FYET_MAPPING_START) {
            depth++;
            deepest = MAX(deepest, depth);
        } else if (ev->type == FYET_SEQUENCE_END || ev->type == FYET_MAPPING_END) {
            depth--;
        }
        fy_parser_event_free(parser, ev);
    }
    gboolean failed = fy_parser_get_stream_error(parser);
    fy_parser_destroy(parser);
    return failed ? -1 : deepest;
}

/* Valid YAML whose brackets are mostly text: the scan, limited to four
 * flow levels, must not count them. */
static const char *const shallow[] = {
    "a: '[[[[[['\n",
    "a: \"[[[\\\"[[[[\"\n",
    "a: 'it''s [[[[[['\n",
    "a: b[[[[[[\n",
    "a: x # [[[[[[\n",
    "# [[[[[[\na: 1\n",
    "a: [[[[x]]]]\n",
    "a: [\"[[[[[[\", '[[[[[[', {\"k\":\"[[[[[[\"}]\n",
    "a: [b, c]  # [[[[[[\n",
    "a: !!str '[[[[[['\n",
    "runcmd:\n  - |\n    if [[ -f x ]]; then echo [[[[[[\n\n    fi\n  - [ls]\n",
    "- key: |\n   [[[[[[\n  other: >-\n     {{{{{{\n",
    "a:\n  |\n  [[[[[[\nb: 1\n",
    "a: |2\n    [[[[[[\n",
    "--- |\n [[[[[[\n",
    "a: \"multi\n  line [[[[[[\"\n",
    "a: [1,\n  2, [3, [4]]]\n",
    "{\"a\": {\"b\": [{\"c\": 1}]}}\n",
};

static void
test_flow_depth_shallow(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(shallow); i++) {
        const char *text = shallow[i];
        gsize at = 0;
        guint line = 0;
        guint column = 0;
        g_test_message("%s", text);
        g_assert_cmpint(event_depth(text), >=, 0);
        g_assert_cmpint(event_depth(text), <=, 5);
        g_assert_true(vp_yaml_check_flow_depth(text, strlen(text), 4, &at,
                                               &line, &column));
    }
}

/* Flow levels beyond four, and where the first one too deep is. */
static const struct {
    const char *text;
    guint line, column;
} deep[] = {
    { "[[[[[", 1, 5 },
    { "a: [[[[[]]]]]\n", 1, 8 },
    { "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}", 1, 21 },
    { "a: [b c'[[[[[']\n", 1, 12 },
    { "a: [\n  'x', [[[[\n", 2, 11 },
    { "\u00e9: [[[[[\n", 1, 8 },
    /* After a scalar, libfyaml's scanner reads a bracket as one: the
     * parser refuses it, but only after the scanner queued the rest. */
    { "a: \"x\" [[[[[\n", 1, 12 },
    /* Not the block scalar's text: indented no more than its key. */
    { "a: |\nb: [[[[[\n", 2, 8 },
    { "- key: |\n  [[[[[\n", 2, 7 },
};

static void
test_flow_depth_deep(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(deep); i++) {
        gsize at = 0;
        guint line = 0;
        guint column = 0;
        g_test_message("%s", deep[i].text);
        g_assert_false(vp_yaml_check_flow_depth(deep[i].text,
                                                strlen(deep[i].text), 4,
                                                &at, &line, &column));
        g_assert_cmpuint(line, ==, deep[i].line);
        g_assert_cmpuint(column, ==, deep[i].column);
        g_assert_cmpint(deep[i].text[at], ==, column == 21 ? '{' : '[');
    }
    /* 1 MiB of '[' is refused at the limit, not after reading it all. */
    gsize len = VP_SEED_MAX_FILE;
    g_autofree char *big = g_malloc(len);
    memset(big, '[', len);
    gsize at = 0;
    guint line = 0;
    guint column = 0;
    g_assert_false(vp_yaml_check_flow_depth(big, len, 16, &at, &line, &column));
    g_assert_cmpuint(at, ==, 16);
}

/* Through the seed: a file nested too deep, in flow or block style, is
 * refused with its place; one at the limit loads. */
static void
test_load_nesting(void)
{
    static const struct {
        const char *option;
        const char *head;  /* before the nesting */
        const char *open;  /* one level */
        const char *close; /* its end, after the innermost value */
        guint levels;
        const char *message; /* NULL: loads */
    } cases[] = {
        { "user-data", "#cloud-config\na: ", "[", "]", 31, NULL },
        { "user-data", "#cloud-config\na: ", "[", "]", 32,
          "line 2, column 35: mappings and lists nest deeper than 32 levels" },
        { "meta-data", "", "{\"a\": ", "}", 33,
          "line 1, column 193: mappings and lists nest deeper than 32 levels" },
        { "network-config", "a: ", "[", "", 100000,
          "line 1, column 35: mappings and lists nest deeper" },
        { "network-config", "a:\n", "- ", "", 40,
          "line 2, column 63: mappings and lists nest deeper" },
    };
    g_autofree char *ud = write_file("ok-ud", "#!/bin/sh\ntrue\n", -1);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GString *text = g_string_new(cases[i].head);
        for (guint l = 0; l < cases[i].levels; l++) {
            g_string_append(text, cases[i].open);
        }
        g_string_append(text, "1");
        for (guint l = 0; l < cases[i].levels; l++) {
            g_string_append(text, cases[i].close);
        }
        g_string_append_c(text, '\n');
        g_autofree char *path = write_file("nested", text->str, (gssize)text->len);
        g_string_free(text, TRUE);
        g_autofree char *options = g_strdup_printf(
            "%s=%s%s%s", cases[i].option, path,
            strcmp(cases[i].option, "user-data") == 0 ? "" : ",user-data=",
            strcmp(cases[i].option, "user-data") == 0 ? "" : ud);
        g_auto(VpSeedOptions) opts = { 0 };
        g_assert_true(vp_seed_options_parse(options, &opts, NULL));
        g_autoptr(GError) error = NULL;
        g_autoptr(VpSeed) seed = vp_seed_load(&opts, "web", "iid", &error);
        if (cases[i].message == NULL) {
            g_assert_no_error(error);
            g_assert_nonnull(seed);
            continue;
        }
        g_assert_null(seed);
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_test_message("%s", error->message);
        g_assert_nonnull(strstr(error->message, cases[i].message));
        g_assert_nonnull(strstr(error->message, path));
    }
}

int
main(int argc, char **argv)
{
    g_setenv("LC_ALL", "C", TRUE);
    g_autoptr(GError) error = NULL;
    scratch = g_dir_make_tmp("test-seed-XXXXXX", &error);
    g_assert_no_error(error);
    g_setenv("HOME", scratch, TRUE);
    g_autofree char *ssh = g_build_filename(scratch, ".ssh", NULL);
    g_assert_cmpint(g_mkdir(ssh, 0700), ==, 0);
    g_free(write_file(".ssh/id_ed25519.pub", HOSTILE_KEY "\n", -1));

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/seed/options/accepted", test_options_accepted);
    g_test_add_func("/seed/options/rejected", test_options_rejected);
    for (gsize i = 0; i < G_N_ELEMENTS(load_failures); i++) {
        g_autofree char *path = g_strdup_printf("/seed/load/fails/%s",
                                                load_failures[i].name);
        g_test_add_data_func(path, &load_failures[i], test_load_failure);
    }
    g_test_add_func("/seed/load/too-large", test_load_too_large);
    g_test_add_func("/seed/load/bad-names", test_load_bad_names);
    g_test_add_func("/seed/load/nesting", test_load_nesting);
    g_test_add_func("/seed/load/files-once", test_files_once);
    g_test_add_func("/seed/yaml/flow-depth/shallow", test_flow_depth_shallow);
    g_test_add_func("/seed/yaml/flow-depth/deep", test_flow_depth_deep);
    g_test_add_func("/seed/meta-data", test_meta_data);
    g_test_add_func("/seed/user-data/generated", test_generated_bare);
    g_test_add_func("/seed/user-data/keys", test_generated_keys);
    g_test_add_func("/seed/user-data/home-certificates",
                    test_generated_home_certificates);
    g_test_add_func("/seed/user-data/kept", test_user_data_kept);
    g_test_add_func("/seed/user-data/multipart", test_multipart);
    g_test_add_func("/seed/user-data/multipart-nested", test_multipart_nested);
    g_test_add_func("/seed/iso/deterministic", test_iso_deterministic);
    int ret = g_test_run();

    /* The scratch directory holds only files this program wrote. */
    g_autoptr(GDir) dir = g_dir_open(ssh, 0, NULL);
    for (const char *name; dir != NULL && (name = g_dir_read_name(dir)) != NULL;) {
        g_autofree char *p = g_build_filename(ssh, name, NULL);
        g_unlink(p);
    }
    g_rmdir(ssh);
    g_autoptr(GDir) top = g_dir_open(scratch, 0, NULL);
    for (const char *name; top != NULL && (name = g_dir_read_name(top)) != NULL;) {
        g_autofree char *p = g_build_filename(scratch, name, NULL);
        g_unlink(p);
    }
    g_rmdir(scratch);
    return ret;
}
