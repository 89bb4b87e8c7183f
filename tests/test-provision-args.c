/* provision's DOMAIN options, daemon-free: command lines through the real
 * option parser (vp_cli_parse, with its check of empty values) and
 * vp_provision_args_resolve, as tables of accepted lines with what they
 * make and rejected lines with their exit code and message. */
#include <string.h>

#include <glib.h>

#include "command.h"
#include "disk-args.h"
#include "error.h"
#include "exit-codes.h"
#include "global-options.h"
#include "provision-args.h"

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define MiB (G_GUINT64_CONSTANT(1) << 20)
#define GiB (G_GUINT64_CONSTANT(1) << 30)

static const VpCommand vp_test_command = {
    .name = "provision",
    .params = "",
    .summary = "provision, under test",
};

/* One command line, parsed as vp_cmd_provision parses it. */
typedef struct {
    VpProvisionArgs args;
    VpDiskArgs disk;
    VpDomainSpec spec;
    GError *error;
    int exit; /* what vp_cli_fail would return; 0 when accepted */
} VpRun;

static void
vp_run_clear(VpRun *r)
{
    vp_provision_args_clear(&r->args);
    vp_disk_args_clear(&r->disk);
    vp_domain_spec_clear(&r->spec);
    g_clear_error(&r->error);
    /* The global options outlive a parse: one process parses once. */
    g_clear_pointer(&vp_global.connect, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VpRun, vp_run_clear)

static void
vp_run(VpRun *r, const char *const *words)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree GOptionEntry *entries = vp_provision_option_entries(&r->args);
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&r->disk);
    g_autofree char *line = g_strjoinv("' '", (char **)words);

    g_test_message("provision '%s'", line);
    g_ptr_array_add(argv, "virt-provision");
    for (const char *const *w = words; *w != NULL; w++) {
        g_ptr_array_add(argv, (gpointer)*w);
    }
    g_ptr_array_add(argv, NULL);
    int argc = (int)argv->len - 1;
    char **args = (char **)argv->pdata;
    if (vp_cli_parse_data(&vp_test_command, &r->args, &argc, &args, &r->error,
                          entries, disk_entries, NULL) &&
        vp_provision_args_resolve(&r->args, &r->spec, &r->error)) {
        r->exit = 0;
    } else {
        g_assert_nonnull(r->error);
        r->exit = vp_cli_exit_code(r->error);
    }
}

static void
vp_assert_accepted(VpRun *r, const char *const *words)
{
    vp_run(r, words);
    g_assert_no_error(r->error);
    g_assert_cmpint(r->exit, ==, 0);
}

typedef struct {
    const char *const *argv;
    int exit;
    const char *message; /* a substring of the one-line message */
} VpRejected;

static void
vp_assert_rejected(const VpRejected *cases, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        g_auto(VpRun) r = { 0 };
        vp_run(&r, cases[i].argv);
        g_assert_nonnull(r.error);
        g_test_message("-> exit %d: %s", r.exit, r.error->message);
        g_assert_cmpint(r.exit, ==, cases[i].exit);
        g_assert_nonnull(strstr(r.error->message, cases[i].message));
        g_assert_null(strchr(r.error->message, '\n'));
    }
}

static void
test_defaults(void)
{
    g_auto(VpRun) r = { 0 };

    vp_assert_accepted(&r, ARGS("--pool", "default", "--size", "20G"));
    g_assert_cmpuint(r.spec.memory, ==, 2 * GiB);
    g_assert_cmpuint(r.spec.vcpus, ==, 2);
    g_assert_null(r.spec.virt_type);
    g_assert_null(r.spec.arch);
    g_assert_null(r.spec.machine);
    g_assert_cmpstr(r.spec.disk_bus, ==, "virtio");
    g_assert_cmpstr(r.spec.disk_target, ==, "vda");
    g_assert_cmpstr(r.spec.cache, ==, "none");
    g_assert_cmpstr(r.spec.io, ==, "native");
    g_assert_null(r.spec.discard);
    g_assert_cmpstr(r.spec.graphics, ==, "none");
    g_assert_cmpuint(r.spec.nics->len, ==, 1);
    g_assert_cmpint(((VpNic *)r.spec.nics->pdata[0])->kind, ==, VP_NET_DEFAULT);
    g_assert_cmpint(r.spec.install, ==, VP_INSTALL_PXE);
}

static void
test_memory(void)
{
    static const struct {
        const char *text;
        guint64 bytes;
    } accepted[] = {
        { "512", 512 * MiB },      /* a bare number is MiB, as virt-install */
        { "4096", 4 * GiB },
        { "16", 16 * MiB },        /* the smallest */
        { "16M", 16 * MiB },
        { "4G", 4 * GiB },
        { "4GiB", 4 * GiB },
        { "1.5G", 3 * GiB / 2 },
        { "2048MiB", 2 * GiB },
        { "1GB", 1000000000 },
    };
    const VpRejected rejected[] = {
        { ARGS("--memory="), 2, "--memory needs a value, such as --memory 4G" },
        { ARGS("--memory", ""), 2, "--memory needs a value" },
        { ARGS("--memory=   "), 2, "--memory needs a value" },
        { ARGS("--memory=\t"), 2, "--memory needs a value" },
        { ARGS("--memory=15"), 2, "--memory 15 is too small for a guest; use "
                                  "at least 16M" },
        { ARGS("--memory=0"), 2, "too small" },
        { ARGS("--memory=1.5"), 2, "too small" }, /* 1.5 MiB */
        { ARGS("--memory=16K"), 2, "too small" },
        { ARGS("--memory=1e3"), 2, "invalid --memory '1e3': use a size" },
        { ARGS("--memory=-1"), 2, "invalid --memory '-1'" },
        { ARGS("--memory=20X"), 2, "invalid --memory '20X'" },
        { ARGS("--memory=4 G"), 2, "invalid --memory '4 G'" },
        { ARGS("--memory= 4G"), 2, "invalid --memory ' 4G'" },
        { ARGS("--memory=G"), 2, "invalid --memory 'G'" },
        { ARGS("--memory=16E"), 2, "invalid --memory '16E'" },
        { ARGS("--memory=99999999999999999999"), 2, "invalid --memory" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, ARGS("--memory", accepted[i].text));
        g_assert_cmpuint(r.spec.memory, ==, accepted[i].bytes);
    }
    vp_assert_rejected(rejected, G_N_ELEMENTS(rejected));

    /* Past the parser too, empty text is refused without reading before
     * it (the sanitizer build's heap-buffer-overflow of issue 8). */
    g_autoptr(GError) error = NULL;
    g_auto(VpDomainSpec) spec = { 0 };
    VpProvisionArgs empty = { .memory = (char *)"" };
    g_assert_false(vp_provision_args_resolve(&empty, &spec, &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "invalid --memory ''"));
}

static void
test_vcpus(void)
{
    static const struct {
        const char *text;
        guint vcpus;
    } accepted[] = {
        { "1", 1 }, { "2", 2 }, { "64", 64 }, { "4096", 4096 },
    };
    const VpRejected rejected[] = {
        { ARGS("--vcpus="), 2, "--vcpus needs a value, such as --vcpus 2" },
        { ARGS("--vcpus= "), 2, "--vcpus needs a value" },
        { ARGS("--vcpus=0"), 2, "invalid --vcpus '0': use a whole number from "
                                "1 to 4096" },
        { ARGS("--vcpus=4097"), 2, "invalid --vcpus '4097'" },
        { ARGS("--vcpus=-1"), 2, "invalid --vcpus '-1'" },
        { ARGS("--vcpus=+2"), 2, "invalid --vcpus '+2'" },
        { ARGS("--vcpus=2.5"), 2, "invalid --vcpus '2.5'" },
        { ARGS("--vcpus=0x10"), 2, "invalid --vcpus '0x10'" },
        { ARGS("--vcpus= 2"), 2, "invalid --vcpus ' 2'" },
        { ARGS("--vcpus=two"), 2, "invalid --vcpus 'two'" },
        { ARGS("--vcpus=18446744073709551617"), 2, "invalid --vcpus" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, ARGS("--vcpus", accepted[i].text));
        g_assert_cmpuint(r.spec.vcpus, ==, accepted[i].vcpus);
    }
    vp_assert_rejected(rejected, G_N_ELEMENTS(rejected));
}

static void
test_choices(void)
{
    static const struct {
        const char *option;
        const char *value;
    } accepted[] = {
        { "--virt-type", "kvm" },     { "--virt-type", "qemu" },
        { "--graphics", "none" },     { "--graphics", "vnc" },
        { "--graphics", "spice" },    { "--disk-bus", "virtio" },
        { "--disk-bus", "scsi" },     { "--disk-bus", "sata" },
        { "--disk-bus", "ide" },      { "--cache", "none" },
        { "--cache", "writeback" },   { "--cache", "writethrough" },
        { "--cache", "directsync" },  { "--cache", "unsafe" },
        { "--cache", "default" },     { "--io", "native" },
        { "--io", "threads" },        { "--io", "io_uring" },
        { "--discard", "unmap" },     { "--discard", "ignore" },
    };
    const VpRejected rejected[] = {
        { ARGS("--virt-type=xen"), 2, "invalid --virt-type 'xen': use kvm or "
                                      "qemu" },
        { ARGS("--virt-type=KVM"), 2, "invalid --virt-type 'KVM'" },
        { ARGS("--graphics=rdp"), 2, "invalid --graphics 'rdp': use none, vnc "
                                     "or spice" },
        { ARGS("--disk-bus=usb"), 2, "invalid --disk-bus 'usb': use virtio, "
                                     "scsi, sata or ide" },
        { ARGS("--cache=always"), 2, "invalid --cache 'always': use none, "
                                     "writeback, writethrough, directsync or "
                                     "unsafe" },
        { ARGS("--io=aio"), 2, "invalid --io 'aio': use native, threads or "
                               "io_uring" },
        { ARGS("--discard=on"), 2, "invalid --discard 'on': use unmap or "
                                   "ignore" },
        { ARGS("--graphics=vnc "), 2, "invalid --graphics 'vnc '" },
        /* qemu refuses aio=native without O_DIRECT at the guest's start */
        { ARGS("--cache", "writeback", "--io", "native"), 2,
          "--io native needs --cache none or directsync, not 'writeback'" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, ARGS(accepted[i].option, accepted[i].value));
    }
    vp_assert_rejected(rejected, G_N_ELEMENTS(rejected));
}

/* What the disk bus and the cache mode imply. */
static void
test_disk(void)
{
    static const struct {
        const char *bus;
        const char *target;
    } targets[] = {
        { "virtio", "vda" }, { "scsi", "sda" }, { "sata", "sda" }, { "ide", "hda" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(targets); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, ARGS("--disk-bus", targets[i].bus));
        g_assert_cmpstr(r.spec.disk_bus, ==, targets[i].bus);
        g_assert_cmpstr(r.spec.disk_target, ==, targets[i].target);
    }
    /* io=native needs the host page cache out of the way. */
    g_auto(VpRun) writeback = { 0 };
    vp_assert_accepted(&writeback, ARGS("--cache", "writeback"));
    g_assert_cmpstr(writeback.spec.cache, ==, "writeback");
    g_assert_null(writeback.spec.io);
    g_auto(VpRun) threads = { 0 };
    vp_assert_accepted(&threads, ARGS("--io", "threads", "--discard", "unmap"));
    g_assert_cmpstr(threads.spec.cache, ==, "none");
    g_assert_cmpstr(threads.spec.io, ==, "threads");
    g_assert_cmpstr(threads.spec.discard, ==, "unmap");
}

static void
test_network(void)
{
    static const struct {
        const char *text;
        VpNetKind net;
        const char *source;
    } accepted[] = {
        { "none", VP_NET_NONE, NULL },
        { "user", VP_NET_USER, NULL },
        { "network=default", VP_NET_NETWORK, "default" },
        { "network=a=b", VP_NET_NETWORK, "a=b" },
        { "bridge=br0", VP_NET_BRIDGE, "br0" },
    };
    const VpRejected rejected[] = {
        { ARGS("--network="), 2, "--network needs a value, such as --network "
                                 "network=default" },
        { ARGS("--network=network="), 2, "invalid --network 'network=': use "
                                         "network=NAME, bridge=BR, user or none" },
        { ARGS("--network=bridge="), 2, "invalid --network 'bridge='" },
        { ARGS("--network=default"), 2, "invalid --network 'default'" },
        { ARGS("--network=Network=x"), 2, "invalid --network 'Network=x'" },
        { ARGS("--network=wifi"), 2, "invalid --network 'wifi'" },
        /* Sub-options after the kind, each once, with valid values. */
        { ARGS("--network=mac=52:54:00:00:00:01"), 2, "invalid --network" },
        { ARGS("--network=user,mac=52:54:00:00:00"), 2,
          "invalid --network 'user,mac=52:54:00:00:00'" },
        { ARGS("--network=user,mac=01:54:00:00:00:01"), 2, "invalid --network" },
        { ARGS("--network=user,mac=52-54-00-00-00-01"), 2, "invalid --network" },
        { ARGS("--network=user,model=e1000 e"), 2, "invalid --network" },
        { ARGS("--network=user,model="), 2, "invalid --network" },
        { ARGS("--network=user,speed=10"), 2, "invalid --network" },
        { ARGS("--network=user,user"), 2, "invalid --network" },
        { ARGS("--network=none,mac=52:54:00:00:00:01"), 2, "invalid --network" },
        { ARGS("--network=user", "--network=none"), 2,
          "--network none gives the guest no NIC and cannot stand beside "
          "another --network" },
        { ARGS("--network=user", "--network="), 2, "--network needs a value" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, ARGS("--import", "--network", accepted[i].text));
        if (accepted[i].net == VP_NET_NONE) {
            g_assert_cmpuint(r.spec.nics->len, ==, 0);
            continue;
        }
        g_assert_cmpuint(r.spec.nics->len, ==, 1);
        const VpNic *nic = r.spec.nics->pdata[0];
        g_assert_cmpint(nic->kind, ==, accepted[i].net);
        g_assert_cmpstr(nic->source, ==, accepted[i].source);
        g_assert_null(nic->mac);
        g_assert_null(nic->model);
    }
    vp_assert_rejected(rejected, G_N_ELEMENTS(rejected));

    /* Repeated: one NIC each, in order, with their MACs (as libvirt writes
     * them back: lower case) and models. */
    g_auto(VpRun) r = { 0 };
    vp_assert_accepted(&r, ARGS("--import", "--network",
                                "network=lab,mac=52:54:00:AB:cd:01",
                                "--network", "bridge=br0,model=e1000e",
                                "--network=user"));
    g_assert_cmpuint(r.spec.nics->len, ==, 3);
    const VpNic *a = r.spec.nics->pdata[0];
    const VpNic *b = r.spec.nics->pdata[1];
    const VpNic *c = r.spec.nics->pdata[2];
    g_assert_cmpint(a->kind, ==, VP_NET_NETWORK);
    g_assert_cmpstr(a->source, ==, "lab");
    g_assert_cmpstr(a->mac, ==, "52:54:00:ab:cd:01");
    g_assert_null(a->model);
    g_assert_cmpint(b->kind, ==, VP_NET_BRIDGE);
    g_assert_cmpstr(b->model, ==, "e1000e");
    g_assert_cmpint(c->kind, ==, VP_NET_USER);
}

static void
test_install(void)
{
    const struct {
        const char *const *argv;
        VpInstallKind install;
    } accepted[] = {
        { ARGS("--pool", "default"), VP_INSTALL_PXE },
        { ARGS("--cdrom", "debian.iso"), VP_INSTALL_CDROM },
        { ARGS("--kernel", "vmlinuz"), VP_INSTALL_KERNEL },
        { ARGS("--kernel", "vmlinuz", "--initrd", "initrd.img", "--cmdline",
               "console=ttyS0"), VP_INSTALL_KERNEL },
        { ARGS("--import"), VP_INSTALL_IMPORT },
        { ARGS("--import", "--network", "none"), VP_INSTALL_IMPORT },
        { ARGS("--cdrom", "debian.iso", "--network", "none"), VP_INSTALL_CDROM },
    };
    const VpRejected rejected[] = {
        { ARGS("--cdrom", "a.iso", "--import"), 2, "choose one way to install: "
                                                  "--cdrom, --kernel or --import" },
        { ARGS("--cdrom", "a.iso", "--kernel", "vmlinuz"), 2, "choose one way" },
        { ARGS("--kernel", "vmlinuz", "--import"), 2, "choose one way" },
        { ARGS("--cdrom", "a.iso", "--kernel", "k", "--import"), 2,
          "choose one way" },
        { ARGS("--initrd", "initrd.img"), 2, "--initrd and --cmdline go with "
                                             "--kernel" },
        { ARGS("--cmdline", "console=ttyS0", "--import"), 2, "go with --kernel" },
        { ARGS("--network", "none"), 2, "installs from the network, which "
                                        "--network none rules out" },
        { ARGS("--cdrom="), 2, "--cdrom needs a value, such as --cdrom "
                               "debian.iso" },
        { ARGS("--kernel", " "), 2, "--kernel needs a value" },
        { ARGS("--kernel", "vmlinuz", "--initrd="), 2, "--initrd needs a value" },
        { ARGS("--kernel", "vmlinuz", "--cmdline="), 2, "--cmdline needs a value" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(accepted); i++) {
        g_auto(VpRun) r = { 0 };
        vp_assert_accepted(&r, accepted[i].argv);
        g_assert_cmpint(r.spec.install, ==, accepted[i].install);
    }
    g_auto(VpRun) kernel = { 0 };
    vp_assert_accepted(&kernel, accepted[3].argv);
    g_assert_cmpstr(kernel.spec.kernel, ==, "vmlinuz");
    g_assert_cmpstr(kernel.spec.initrd, ==, "initrd.img");
    g_assert_cmpstr(kernel.spec.cmdline, ==, "console=ttyS0");
    vp_assert_rejected(rejected, G_N_ELEMENTS(rejected));
}

/* Every option of provision that takes a value refuses an empty or blank
 * one, in every spelling, as a usage error that names it and shows a
 * value: the check is vp_cli_parse's, so the table is the entries
 * themselves, not a list kept here. */
static void
test_empty(void)
{
    static const char *const blanks[] = { "", " ", "  ", "\t", " \n " };
    VpProvisionArgs a = { 0 };
    VpDiskArgs disk = { 0 };
    g_autofree GOptionEntry *entries = vp_provision_option_entries(&a);
    g_autofree GOptionEntry *disk_entries = vp_disk_option_entries(&disk);
    const GOptionEntry *tables[] = { entries, disk_entries };
    guint options = 0;

    for (gsize t = 0; t < G_N_ELEMENTS(tables); t++) {
        for (const GOptionEntry *e = tables[t]; e->long_name != NULL; e++) {
            if (e->arg != G_OPTION_ARG_STRING && e->arg != G_OPTION_ARG_FILENAME) {
                continue;
            }
            options++;
            g_autofree char *option = g_strconcat("--", e->long_name, NULL);
            g_autofree char *expected = g_strdup_printf(
                "%s needs a value, such as %s ", option, option);
            for (gsize b = 0; b < G_N_ELEMENTS(blanks); b++) {
                g_autofree char *joined = g_strconcat(option, "=", blanks[b], NULL);
                const VpRejected spellings[] = {
                    { ARGS(joined), 2, expected },
                    { ARGS(option, blanks[b]), 2, expected },
                    /* After a valid value: the last one counts. */
                    { ARGS(option, "x", joined), 2, expected },
                };
                vp_assert_rejected(spellings, G_N_ELEMENTS(spellings));
            }
        }
    }
    /* The table is the real one: provision's and the DISK options. */
    g_assert_cmpuint(options, >=, 25);

    const VpRejected others[] = {
        { ARGS("-p", ""), 2, "--pool needs a value, such as --pool default" },
        { ARGS("-n", "  "), 2, "--name needs a value, such as --name zabbix" },
        { ARGS("-s", ""), 2, "--size needs a value, such as --size 20G" },
        { ARGS("--connect="), 2, "--connect needs a value, such as --connect "
                                 "qemu:///system" },
        { ARGS("-c", " "), 2, "--connect needs a value" },
        /* The first empty value is named, whatever else is wrong. */
        { ARGS("--pool=", "--memory=1"), 2, "--pool needs a value" },
    };
    vp_assert_rejected(others, G_N_ELEMENTS(others));
}

/* Values that merely look odd are the options' own business, not empty. */
static void
test_not_blank(void)
{
    g_auto(VpRun) r = { 0 };

    vp_assert_accepted(&r, ARGS("--pool", " default", "--name", "a b", "--arch",
                                "x86_64", "--machine", "pc", "--kernel", ".",
                                "--cmdline", " quiet "));
    g_assert_cmpstr(r.args.pool, ==, " default");
    g_assert_cmpstr(r.spec.cmdline, ==, " quiet ");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/provision/args/defaults", test_defaults);
    g_test_add_func("/provision/args/memory", test_memory);
    g_test_add_func("/provision/args/vcpus", test_vcpus);
    g_test_add_func("/provision/args/choices", test_choices);
    g_test_add_func("/provision/args/disk", test_disk);
    g_test_add_func("/provision/args/network", test_network);
    g_test_add_func("/provision/args/install", test_install);
    g_test_add_func("/provision/args/empty", test_empty);
    g_test_add_func("/provision/args/not-blank", test_not_blank);
    return g_test_run();
}
