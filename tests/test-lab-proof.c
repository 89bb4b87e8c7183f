/* What a lab may delete of the volumes a record names: one host as a
 * domain's disks, other domains' disks and the pool's backing files
 * describe it, and a table of claims, forged ones among them. */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "lab-proof.h"

/* Guest web-1, provisioned in pool "default", with its disk and seed; a
 * domain "other" using other.qcow2 and, by pool and volume, shared.qcow2;
 * overlays backed by the base debian.qcow2. */
static const char web1_xml[] =
    "<domain type='qemu'><name>web-1</name><devices>"
    "<disk type='file' device='disk'><source file='/p/web-1.qcow2'/>"
    "<target dev='vda'/></disk>"
    "<disk type='file' device='cdrom'><source file='/p/web-1-cidata.iso'/>"
    "<target dev='sda'/></disk>"
    "<disk type='volume' device='disk'><source pool='default' volume='web-1.img'/>"
    "<target dev='vdb'/></disk>"
    /* The forger made the base and the other domain's disks its own too. */
    "<disk type='file' device='disk'><source file='/p/debian.qcow2'/>"
    "<target dev='vdc'/></disk>"
    "<disk type='file' device='disk'><source file='/p/other.qcow2'/>"
    "<target dev='vdd'/></disk>"
    "<disk type='file' device='disk'><source file='/q/web-1.qcow2'/>"
    "<target dev='vde'/></disk>"
    "<disk type='network' device='disk'><source protocol='nbd' name='x'/>"
    "<target dev='vdf'/></disk>"
    "</devices></domain>";

static const char other_xml[] =
    "<domain type='qemu'><name>other</name><devices>"
    "<disk type='file' device='disk'><source file='/p/other.qcow2'/>"
    "<target dev='vda'/></disk>"
    "<disk type='volume' device='disk'><source pool='default' volume='web-1.img'/>"
    "<target dev='vdb'/></disk>"
    "</devices></domain>";

#define WEB1_UUID "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define OTHER_UUID "6f2a9c1e-0c3b-4d5e-9f10-2b3c4d5e6f70"

typedef struct {
    const char *pool;
    const char *name;
    const char *path; /* NULL: gone */
    VpLabProof want;
    const char *who;
    const char *reason; /* a substring of the reason, for refusals */
} VpProofRow;

static const VpProofRow rows[] = {
    { "default", "web-1.qcow2", "/p/web-1.qcow2", VP_LAB_PROOF_OWNED, NULL, NULL },
    { "default", "web-1-cidata.iso", "/p/web-1-cidata.iso", VP_LAB_PROOF_OWNED,
      NULL, NULL },
    { "default", "web-1.qcow2", NULL, VP_LAB_PROOF_GONE, NULL, NULL },
    /* A base named in a forged record: not a name of the guest's. */
    { "default", "debian.qcow2", "/p/debian.qcow2", VP_LAB_PROOF_NAME, NULL,
      "does not have a name this tool gives a volume of guest 'web-1'" },
    /* Another domain's disk, named in the record. */
    { "default", "other.qcow2", "/p/other.qcow2", VP_LAB_PROOF_NAME, NULL,
      "'default/other.qcow2'" },
    /* A volume of the guest's name in another pool. */
    { "fast", "web-1.qcow2", "/q/web-1.qcow2", VP_LAB_PROOF_POOL, NULL,
      "is not in pool 'default' of guest 'web-1'" },
    /* The right name, but not one of the domain's disks. */
    { "default", "web-1-cidata.iso", "/p/elsewhere.iso", VP_LAB_PROOF_NOT_DISK,
      NULL, "is not a disk of domain 'web-1'" },
    /* A disk of the guest by pool and volume that another domain uses too. */
    { "default", "web-1.img", "/p/web-1.img", VP_LAB_PROOF_SHARED, "other",
      "is a disk of domain 'other' too" },
};

/* The view of web-1 on the host above, its names as provision gives them. */
static void
vp_view_init(VpLabProofView *view, const char *const *names)
{
    g_autoptr(GError) error = NULL;

    view->guest = "web-1";
    view->uuid = WEB1_UUID;
    view->pool = "default";
    view->names = names;
    view->own = vp_lab_disk_users_new();
    view->users = vp_lab_disk_users_new();
    view->backing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_assert_true(vp_lab_proof_add_disks(view->own, web1_xml, WEB1_UUID, "web-1",
                                         &error));
    /* The host's listing holds the guest itself (twice: persistent and
     * live definitions), and the other domain. */
    g_assert_true(vp_lab_proof_add_disks(view->users, web1_xml, WEB1_UUID,
                                         "web-1", &error));
    g_assert_true(vp_lab_proof_add_disks(view->users, web1_xml, WEB1_UUID,
                                         "web-1", &error));
    g_assert_true(vp_lab_proof_add_disks(view->users, other_xml, OTHER_UUID,
                                         "other", &error));
    g_assert_no_error(error);
}

static void
vp_view_clear(VpLabProofView *view)
{
    g_hash_table_unref(view->own);
    g_hash_table_unref(view->users);
    g_hash_table_unref(view->backing);
}

static const char *const web1_names[] = { "web-1.qcow2", "web-1.img",
                                          "web-1-cidata.iso", NULL };

static void
test_table(void)
{
    VpLabProofView view;

    vp_view_init(&view, web1_names);
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        const VpProofRow *r = &rows[i];
        const char *who = NULL;
        VpLabProof got = vp_lab_proof_check(&view, r->pool, r->name, r->path, &who);
        g_test_message("row %zu: %s/%s", i, r->pool, r->name);
        g_assert_cmpint(got, ==, r->want);
        g_assert_cmpstr(who, ==, r->who);
        if (r->reason != NULL) {
            g_autofree char *reason = vp_lab_proof_reason(got, r->pool, r->name,
                                                          &view, who);
            g_assert_nonnull(strstr(reason, r->reason));
            g_assert_null(strchr(reason, '\n'));
        }
    }
    vp_view_clear(&view);
}

/* A guest named like the base (a forger's domain "debian" with the base
 * as its disk) still may not delete it while an overlay is backed by it,
 * even when no running guest shows that in its definition. */
static void
test_backing(void)
{
    static const char *const debian_names[] = { "debian.qcow2", NULL };
    VpLabProofView view;
    const char *who = NULL;

    vp_view_init(&view, debian_names);
    view.guest = "debian";
    g_hash_table_insert(view.backing, g_strdup("/p/debian.qcow2"),
                        g_strdup("default/ci-1.qcow2"));
    VpLabProof got = vp_lab_proof_check(&view, "default", "debian.qcow2",
                                        "/p/debian.qcow2", &who);
    g_assert_cmpint(got, ==, VP_LAB_PROOF_BACKING);
    g_assert_cmpstr(who, ==, "default/ci-1.qcow2");
    g_autofree char *reason = vp_lab_proof_reason(got, "default", "debian.qcow2",
                                                  &view, who);
    g_assert_cmpstr(reason, ==, "volume 'default/debian.qcow2' is the backing "
                                "file of volume 'default/ci-1.qcow2'");
    /* Without the overlay it is the forger's own disk, named after it. */
    g_hash_table_remove_all(view.backing);
    g_assert_cmpint(vp_lab_proof_check(&view, "default", "debian.qcow2",
                                       "/p/debian.qcow2", NULL),
                    ==, VP_LAB_PROOF_OWNED);
    vp_view_clear(&view);
}

static void
test_bad_xml(void)
{
    g_autoptr(GHashTable) keys = vp_lab_disk_users_new();
    g_autoptr(GError) error = NULL;

    g_assert_false(vp_lab_proof_add_disks(keys, "<domain><devices>", WEB1_UUID,
                                          "web-1", &error));
    g_assert_error(error, VP_ERROR, VP_ERROR_FAILED);
    g_assert_cmpuint(g_hash_table_size(keys), ==, 0);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lab-proof/table", test_table);
    g_test_add_func("/lab-proof/backing", test_backing);
    g_test_add_func("/lab-proof/bad-xml", test_bad_xml);
    return g_test_run();
}
