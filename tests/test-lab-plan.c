/* The lab planner without a daemon: host snapshots (the domains each host
 * holds, with or without this lab's record), the manifest and the command's
 * flags go in; each guest's action, host and message come out.  Keep,
 * create, replace, drift, delete, conflict, unreachable hosts, pins,
 * placement ties, second copies of a guest and two URIs of one daemon,
 * one table row each.
 *
 * A host is written as a list of domains separated by spaces:
 *
 *     NAME                a foreign domain: no record of this lab
 *     NAME:ENTRY:HASH     this lab's guest of manifest ENTRY, complete
 *     ...:HASH:c          its creation never finished (state creating)
 *     ...:HASH:g          a volume of its record is gone
 *     NAME:@ENTRY:HASH    a record of another lab
 *     NAME:?              a record that does not parse
 *     #HOSTNAME %UUID     the daemon's host name, a pool's UUID
 *
 * and for lab networks (the manifest's networks: of the row, lab "ci"):
 *
 *     =NAME@CIDR          a network of the host, no record (foreign)
 *     =NAME@CIDR+         this lab's copy, as the manifest says
 *     =NAME@CIDR+old      this lab's copy of another cidr, mode or domain
 *     =NAME@CIDR+@        another lab's record
 *     >NET/NAME/IP/MAC    a reservation in NET (MACs written with '-')
 *     ~NET/FIRST-LAST     leases of every address FIRST..LAST in NET
 *     *MAC/DOMAIN[/NET]   a NIC of DOMAIN (MAC, or @GUEST/N: the MAC
 *                         derived for NIC N of GUEST), on NET
 *     &GUEST/NET/N/IP/MAC a nic of GUEST's record (its NIC on NET there)
 *
 * or "!" for a host that cannot be reached.  Every manifest entry's options
 * hash is "H" unless the row says otherwise.  Expected outcomes are
 * "NAME ACTION HOST [a phrase of the message]" separated by " | ", in
 * report order; HOST "-" for none.  The message is the error, or the note
 * of a guest without one; a guest without a phrase has neither. */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "lab-private.h"
#include "manifest.h"
#include "provision-options.h"

#define N_HOSTS 3

/* The commands as the command line runs them: apply, status, destroy,
 * and apply --dry-run. */
typedef enum {
    APPLY,
    STATUS,
    DESTROY,
    DRY_RUN,
} VpRowCommand;

typedef struct {
    const char *why;
    const char *guests;        /* the manifest's guests: list */
    const char *hosts[N_HOSTS];
    VpRowCommand command;
    gboolean replace, prune;
    const char *hashes;        /* "ENTRY=HASH ...": entries whose hash is not H */
    const char *want;          /* the report, or "error: PHRASE" */
} VpPlanRow;

/* A row with lab networks. */
typedef struct {
    VpPlanRow row;
    const char *networks;      /* the manifest's networks: lines; NULL */
    /* "NAME HOST ACTION SUBNET [phrase]" of each network report, " | " */
    const char *nets;
    /* "GUEST NET IP [MAC]" of planned NICs (MAC, or #N: the N-th MAC
     * derived), " | "; every other planned NIC is only checked to be
     * unique on its host and in its host's /24 */
    const char *ids;
} VpNetRow;

#define WEB_DB "  - name: web\n    count: 2\n  - name: db\n    host: h2\n"
#define NODES "  - name: node\n    count: 8\n"
#define LAN "networks:\n  lan: {cidr: 10.88.0.0/16, domain: ci.test}\n"
#define NET_WEB_DB                                                            \
    "  - name: web\n    count: 2\n    network: [lan]\n  - name: db\n    host: h2\n" \
    "    network: [{network: lan, ip: 10.88.1.10}]\n"
/* The note of a guest placed while host h3 is down, on host H. */
#define AWAY(h) "placed on host '" h "' while host 'h3' is unreachable"

static const VpPlanRow rows[] = {
    { "an empty lab: placed by fewest guests, ties in host order, db pinned",
      WEB_DB, { "", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" },
    { "everything in place: kept where it is",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db keep h2" },
    { "a placed guest never moves, even when another host is emptier",
      WEB_DB, { "", "db:db:H", "web-1:web:H web-2:web:H" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h3 | web-2 keep h3 | db keep h2" },
    { "new guests go to the host with the fewest of the lab's guests",
      WEB_DB, { "x:x:H y:y:H", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h2 | web-2 create h3 | db create h2 | x drift h1 not in the manifest | "
      "y drift h1 not in the manifest" },
    { "a tie goes to the first host of the manifest",
      "  - name: solo\n", { "a:a:H", "b:b:H", "" }, APPLY, FALSE, TRUE, NULL,
      "solo create h3 | a delete h1 | b delete h2" },
    { "changed options are drift",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:OLD", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db drift h2 its options changed since it was created; "
      "use --replace" },
    { "changed options with --replace are replaced where they are",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:OLD", "" }, APPLY, TRUE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db replace h2" },
    { "a manifest hash change is drift for every guest of the entry",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "" }, APPLY, FALSE, FALSE, "web=H2",
      "web-1 drift h1 options changed | web-2 drift h2 options changed | db keep h2" },
    { "a guest whose creation never finished is replaced without --replace",
      WEB_DB, { "web-1:web:H:c", "web-2:web:H db:db:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 replace h1 | web-2 keep h2 | db keep h2" },
    { "a guest of another entry's name is drift",
      WEB_DB, { "web-1:webx:H", "web-2:web:H db:db:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 drift h1 options changed | web-2 keep h2 | db keep h2" },
    { "pinned elsewhere than it is: drift",
      WEB_DB, { "web-1:web:H db:db:H", "web-2:web:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db drift h1 pinned to host 'h2' but is on 'h1'" },
    { "pinned elsewhere with --replace: moved to its pin",
      WEB_DB, { "web-1:web:H db:db:H", "web-2:web:H", "" }, APPLY, TRUE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db replace h2" },
    { "a volume gone behind the lab's back is drift",
      WEB_DB, { "web-1:web:H:g", "web-2:web:H db:db:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 drift h1 volumes of it are gone | web-2 keep h2 | db keep h2" },
    { "a volume gone, with --replace: replaced",
      WEB_DB, { "web-1:web:H:g", "web-2:web:H db:db:H", "" }, APPLY, TRUE, FALSE, NULL,
      "web-1 replace h1 | web-2 keep h2 | db keep h2" },
    { "status: the same verdicts, nothing to do",
      WEB_DB, { "web-1:web:H:g", "", "" }, STATUS, FALSE, FALSE, NULL,
      "web-1 drift h1 volumes of it are gone | web-2 create h2 | db create h2" },
    { "a foreign domain of a pinned guest's name on its host: conflict",
      WEB_DB, { "", "db", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db conflict h2 domain 'db' on host 'h2' is not "
      "this lab's" },
    { "a foreign domain of a pinned guest's name elsewhere: no matter (and "
      "foreign domains do not count for placement)",
      WEB_DB, { "db", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" },
    { "a foreign domain of an unplaced guest's name on any host: conflict",
      WEB_DB, { "", "", "web-2" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 conflict h3 not this lab's | db create h2" },
    { "another lab's record is foreign",
      WEB_DB, { "", "db:@db:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db conflict h2 not this lab's" },
    { "a record that does not parse is foreign",
      WEB_DB, { "", "db:?", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db conflict h2 not this lab's" },
    { "moving to a pin that holds a foreign domain of the name: conflict",
      WEB_DB, { "db:db:H", "db", "" }, APPLY, TRUE, FALSE, NULL,
      "web-1 create h2 | web-2 create h3 | db conflict h2 not this lab's" },
    { "an unlisted guest of the lab is drift without --prune",
      "  - name: db\n    host: h2\n", { "old:web:H", "db:db:H", "" }, APPLY, FALSE, FALSE,
      NULL, "db keep h2 | old drift h1 not in the manifest; use --prune" },
    { "an unlisted guest with --prune is deleted",
      "  - name: db\n    host: h2\n", { "old:web:H", "db:db:H", "" }, APPLY, FALSE, TRUE,
      NULL, "db keep h2 | old delete h1" },
    { "a second copy of a listed guest is drift",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-1:web:H" }, APPLY, FALSE,
      FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db keep h2 | web-1 drift h3 a second copy, the guest "
      "is on host 'h1'" },
    { "a second copy with --prune is deleted",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-1:web:H" }, APPLY, FALSE,
      TRUE, NULL, "web-1 keep h1 | web-2 keep h2 | db keep h2 | web-1 delete h3" },
    { "a pinned guest's host down: failed, the rest applied",
      WEB_DB, { "web-1:web:H", "!", "web-2:web:H" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h3 | db failed h2 host 'h2' is unreachable" },
    { "an unplaced guest while a host is down: placed on a reachable one, the note "
      "says so",
      WEB_DB, { "web-1:web:H", "!", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 create h3 placed on host 'h3' while host 'h2' is unreachable | "
      "db failed h2 host 'h2' is unreachable" },
    { "moving to a pin that is down: failed, reported where it still is",
      WEB_DB, { "web-1:web:H db:db:H", "!", "web-2:web:H" }, APPLY, TRUE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h3 | db failed h1 host 'h2' is unreachable" },
    { "no host reachable",
      "  - name: solo\n", { "!", "!", "!" }, APPLY, FALSE, FALSE, NULL,
      "solo failed - no host of the lab is reachable" },
    { "destroy: every guest of the lab, listed or not",
      WEB_DB, { "web-1:web:H x", "db:db:H:c", "old:gone:H" }, DESTROY, FALSE, FALSE, NULL,
      "web-1 delete h1 | db delete h2 | old delete h3" },
    { "destroy: a pinned guest on a host that is down cannot be told",
      WEB_DB, { "web-1:web:H", "!", "" }, DESTROY, FALSE, FALSE, NULL,
      "web-1 delete h1 | db failed h2 host 'h2' is unreachable" },
    { "destroy of a lab that is not there: nothing",
      WEB_DB, { "db", "x:@db:H", "" }, DESTROY, FALSE, FALSE, NULL, "" },
    { "a fresh lab with a host down: every unpinned guest on the others, by the "
      "placement rule, each note naming the lost host and the fix",
      NODES, { "", "", "!" }, APPLY, FALSE, FALSE, NULL,
      "node-1 create h1 " AWAY("h1") "; should it hold the guest too, --prune deletes one "
      "copy once it is back | node-2 create h2 " AWAY("h2") " | node-3 create h1 "
      AWAY("h1") " | node-4 create h2 " AWAY("h2") " | node-5 create h1 " AWAY("h1")
      " | node-6 create h2 " AWAY("h2") " | node-7 create h1 " AWAY("h1")
      " | node-8 create h2 " AWAY("h2") },
    { "two hosts down: the note names both",
      "  - name: solo\n", { "!", "", "!" }, APPLY, FALSE, FALSE, NULL,
      "solo create h2 placed on host 'h2' while hosts 'h1', 'h3' are unreachable; should "
      "one of them hold" },
    { "a pinned guest of a down host fails; its lab's unpinned guests go elsewhere",
      WEB_DB, { "", "!", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 placed on host 'h1' while host 'h2' | web-2 create h3 placed on "
      "host 'h3' while host 'h2' | db failed h2 host 'h2' is unreachable" },
    { "status while a host is down: the same placement and notes",
      WEB_DB, { "", "", "!" }, STATUS, FALSE, FALSE, NULL,
      "web-1 create h1 " AWAY("h1") " | web-2 create h2 " AWAY("h2") " | db create h2" },
    { "--dry-run while a host is down: the same, every guest reported at once",
      WEB_DB, { "", "", "!" }, DRY_RUN, FALSE, FALSE, NULL,
      "web-1 create h1 " AWAY("h1") " | web-2 create h2 " AWAY("h2") " | db create h2" },
    { "the lost host back with its copy: the copy on the host of fewer lab guests is "
      "kept, the other is drift naming both hosts and --prune",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-2:web:H" }, APPLY, FALSE,
      FALSE, NULL,
      "web-1 keep h1 | web-2 keep h3 | db keep h2 | web-2 drift h2 a second copy, the guest "
      "is on host 'h3' (the copy the placement keeps); use --prune to delete this one on "
      "host 'h2'" },
    { "status of the same: the same verdicts",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-2:web:H" }, STATUS, FALSE,
      FALSE, NULL,
      "web-1 keep h1 | web-2 keep h3 | db keep h2 | web-2 drift h2 a second copy" },
    { "the same with --prune: the copy the placement would not choose is deleted",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-2:web:H" }, APPLY, FALSE,
      TRUE, NULL, "web-1 keep h1 | web-2 keep h3 | db keep h2 | web-2 delete h2" },
    { "the same with --prune --dry-run: the deletion planned, nothing run",
      WEB_DB, { "web-1:web:H", "web-2:web:H db:db:H", "web-2:web:H" }, DRY_RUN, FALSE,
      TRUE, NULL, "web-1 keep h1 | web-2 keep h3 | db keep h2 | web-2 delete h2" },
    { "two copies on hosts of as many lab guests: the first host of the manifest keeps "
      "it",
      WEB_DB, { "", "web-1:web:H", "web-1:web:H" }, APPLY, FALSE, TRUE, NULL,
      "web-1 keep h2 | web-2 create h1 | db create h2 | web-1 delete h3" },
    { "a copy as the manifest says is kept over a changed one, whatever the counts",
      WEB_DB, { "web-1:web:OLD", "web-2:web:H db:db:H", "web-1:web:H x:x:H" }, APPLY,
      FALSE, FALSE, NULL,
      "web-1 keep h3 | web-2 keep h2 | db keep h2 | web-1 drift h1 a second copy, the guest "
      "is on host 'h3' | x drift h3 not in the manifest" },
    { "a pinned guest keeps the copy on its pin, whatever the counts",
      WEB_DB, { "db:db:H", "db:db:OLD web-1:web:H web-2:web:H", "" }, APPLY, FALSE, TRUE,
      NULL,
      "web-1 keep h2 | web-2 keep h2 | db drift h2 its options changed | db delete h1" },
    { "--replace with two copies: the kept one is replaced where it is, the other stays "
      "until --prune",
      WEB_DB, { "web-1:web:OLD", "web-2:web:H db:db:H", "web-1:web:OLD" }, APPLY, TRUE,
      FALSE, NULL,
      "web-1 replace h1 | web-2 keep h2 | db keep h2 | web-1 drift h3 a second copy, the "
      "guest is on host 'h1'" },
    { "destroy: both copies of a guest go",
      WEB_DB, { "web-1:web:H", "", "web-1:web:H" }, DESTROY, FALSE, FALSE, NULL,
      "web-1 delete h1 | web-1 delete h3" },
    { "two hosts that are one daemon: refused",
      WEB_DB, { "#hv %pool-1", "#hv %pool-1", "#hv2" }, APPLY, FALSE, FALSE, NULL,
      "error: hosts 'h1' and 'h2' are one libvirt daemon" },
    { "one host name, no UUID in common: two daemons",
      WEB_DB, { "#hv %pool-1", "#hv %pool-2", "#hv" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" },
    { "a domain UUID on two hosts of different names: two daemons (migrated)",
      WEB_DB, { "#hv1 web-1:web:H", "#hv2 web-1:web:H", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 create h3 | db create h2 | web-1 drift h2 a second copy" },

};

static const VpNetRow net_rows[] = {
    /* Lab networks (lab "ci": the network of key lan is ci-lan). */
    { {"lab networks: a copy on each host with a guest, each its own /24 in host order; "
      "a pinned guest keeps its fixed address",
      NET_WEB_DB, { "", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24", "db ci-lan 10.88.1.10" },
    { {"--dry-run: the same network actions beside the guests'",
      NET_WEB_DB, { "", "", "" }, DRY_RUN, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24", "db ci-lan 10.88.1.10" },
    { {"the lab's copies as the manifest says: kept with their guests",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ web-1:web:H *52-54-00-00-00-01/web-1/ci-lan",
                    "=ci-lan@10.88.1.0/24+ web-2:web:H db:db:H *52-54-00-00-00-02/web-2/ci-lan "
                    "*52-54-00-00-00-03/db/ci-lan", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 keep h1 | web-2 keep h2 | db keep h2" }, LAN,
      "ci-lan h1 keep 10.88.0.0/24 | ci-lan h2 keep 10.88.1.0/24", "" },
    { {"a foreign network of the name: conflict, and so are the guests there that use it",
      NET_WEB_DB, { "", "=ci-lan@10.99.0.0/24", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 conflict h2 lab network 'ci-lan' on host 'h2': network "
      "'ci-lan' on host 'h2' is not this lab's | db conflict h2 is not this lab's" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 conflict 10.88.1.0/24 network 'ci-lan' on "
      "host 'h2' is not this lab's; rename the lab or remove that network", "" },
    { {"status: the same conflict, nothing to do",
      NET_WEB_DB, { "", "=ci-lan@10.99.0.0/24", "" }, STATUS, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 conflict h2 not this lab's | db conflict h2 not this lab's" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 conflict 10.88.1.0/24 not this lab's", "" },
    { {"another lab's record on a network of the name: conflict",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+@", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 conflict h1 is not this lab's | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 conflict 10.88.0.0/24 is not this lab's | ci-lan h2 create 10.88.1.0/24",
      "" },
    { {"a subnet overlapping another network of the host: conflict before anything is made",
      NET_WEB_DB, { "=other@10.88.0.0/23", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 conflict h1 overlaps network 'other' | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 conflict 10.88.0.0/24 its subnet 10.88.0.0/24 overlaps network 'other' "
      "(10.88.0.0/23) on host 'h1'; choose another cidr | ci-lan h2 create 10.88.1.0/24", "" },
    { {"a copy made from another cidr, mode or domain: drift, with the guests on it",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+old web-1:web:H &web-1/ci-lan/0/10.88.0.140/"
                    "52-54-00-00-00-01 *52-54-00-00-00-01/web-1/ci-lan", "", "" },
      APPLY, FALSE, FALSE, NULL,
      "web-1 drift h1 lab network 'ci-lan' on host 'h1' changed since it was created; use "
      "--replace | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 drift 10.88.0.0/24 changed since it was created; use --replace | ci-lan h2 "
      "create 10.88.1.0/24", "" },
    { {"--replace: the copy made again with its guests, which keep their MAC and address",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+old web-1:web:H &web-1/ci-lan/0/10.88.0.140/"
                    "52-54-00-00-00-01 *52-54-00-00-00-01/web-1/ci-lan", "", "" },
      APPLY, TRUE, FALSE, NULL, "web-1 replace h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 replace 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24",
      "web-1 ci-lan 10.88.0.140 52:54:00:00:00:01" },
    { {"an unfinished guest made again keeps its record's MAC and address",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ web-1:web:H:c &web-1/ci-lan/0/10.88.0.200/"
                    "52-54-00-00-00-01 *52-54-00-00-00-01/web-1/ci-lan >ci-lan/web-1/"
                    "10.88.0.200/52-54-00-00-00-01", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 replace h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 keep 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24",
      "web-1 ci-lan 10.88.0.200 52:54:00:00:00:01 | db ci-lan 10.88.1.10" },
    { {"a fixed address reserved for another: conflict",
      NET_WEB_DB, { "", "=ci-lan@10.88.1.0/24+ >ci-lan/other/10.88.1.10/52-54-00-99-99-99",
                    "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db conflict h2 the address 10.88.1.10 is taken in "
      "network 'ci-lan' (by 'other')" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 keep 10.88.1.0/24", "" },
    { {"the derived MAC held by a domain of the host: the next derivation",
      NET_WEB_DB, { "*@web-1/0/x", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24",
      "web-1 ci-lan * #1 | web-2 ci-lan * #0" },
    { {"a chosen address skips leases and reservations",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ ~ci-lan/10.88.0.128-10.88.0.199 ~ci-lan/"
                    "10.88.0.201-10.88.0.254", "", "" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 keep 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24", "web-1 ci-lan 10.88.0.200" },
    { {"no address left in the reserved part: conflict for that guest only",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ ~ci-lan/10.88.0.128-10.88.0.254", "", "" }, APPLY,
      FALSE, FALSE, NULL,
      "web-1 conflict h1 no address is free in the reserved part of network 'ci-lan' | web-2 "
      "create h2 | db create h2" }, LAN,
      "ci-lan h1 keep 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24", "" },
    { {"guests placed on one host: distinct MACs and addresses, a copy per host",
      "  - name: n\n    count: 5\n    network: [lan]\n", { "", "", "" }, APPLY, FALSE, FALSE,
      NULL, "n-1 create h1 | n-2 create h2 | n-3 create h3 | n-4 create h1 | n-5 create h2" },
      LAN, "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24 | ci-lan h3 create "
      "10.88.2.0/24", "" },
    { {"a copy no guest uses any more: drift without --prune",
      NET_WEB_DB, { "", "", "=ci-lan@10.88.2.0/24+" }, APPLY, FALSE, FALSE, NULL,
      "web-1 create h1 | web-2 create h2 | db create h2" }, LAN,
      "ci-lan h1 create 10.88.0.0/24 | ci-lan h2 create 10.88.1.0/24 | ci-lan h3 drift "
      "10.88.2.0/24 no guest of the lab uses it on host 'h3'; use --prune", "" },
    { {"a copy of a key the manifest lost: drift, deleted with --prune",
      "  - name: solo\n", { "=ci-old@10.90.0.0/24+ solo:solo:H", "", "" }, APPLY, FALSE,
      TRUE, NULL, "solo keep h1" }, LAN, "ci-old h1 delete -", "" },
    { {"the same without --prune",
      "  - name: solo\n", { "=ci-old@10.90.0.0/24+ solo:solo:H", "", "" }, APPLY, FALSE,
      FALSE, NULL, "solo keep h1" }, LAN, "ci-old h1 drift - not in the manifest; use --prune",
      "" },
    { {"destroy: the lab's copies go with its guests; a foreign copy stays untouched",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ web-1:web:H *52-54-00-00-00-01/web-1/ci-lan",
                    "=ci-lan@10.88.1.0/24+ db:db:H *52-54-00-00-00-03/db/ci-lan",
                    "=ci-lan@10.88.2.0/24" }, DESTROY, FALSE, FALSE, NULL,
      "web-1 delete h1 | db delete h2" }, LAN,
      "ci-lan h1 delete 10.88.0.0/24 | ci-lan h2 delete 10.88.1.0/24", "" },
    { {"destroy: a copy a foreign domain uses stays, a conflict",
      NET_WEB_DB, { "=ci-lan@10.88.0.0/24+ web-1:web:H x *52-54-00-00-00-09/x/ci-lan", "",
                    "" }, DESTROY, FALSE, FALSE, NULL, "web-1 delete h1" }, LAN,
      "ci-lan h1 conflict 10.88.0.0/24 domain 'x', not this lab's, uses it", "" },
    { {"ip= on a network that is not the lab's: a derived MAC, recorded, no copy made",
      "  - name: solo\n    host: h1\n    network: ['network=default,ip=192.168.122.50']\n",
      { "", "", "" }, APPLY, FALSE, FALSE, NULL, "solo create h1" }, NULL, "",
      "solo default 192.168.122.50 #0" },
};

/* The spellings the command line gives the options the plan names. */
static const char *
vp_option_name(VpOptionErrorCode option, gpointer data)
{
    return option == VP_OPTION_ERROR_REPLACE ? "--replace"
           : option == VP_OPTION_ERROR_PRUNE ? "--prune"
                                             : "--option";
}

/* A domain entry of SPEC (see the top of the file); UUIDs are derived from
 * the name, so the same name on two hosts is the same domain. */
static VpDomainEntry *
vp_domain(const char *spec)
{
    g_auto(GStrv) f = g_strsplit(spec, ":", 4);
    VpDomainEntry *e = g_new0(VpDomainEntry, 1);
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_MD5, f[0], -1);

    e->name = g_strdup(f[0]);
    e->uuid = g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", digest, digest + 8,
                              digest + 12, digest + 16, digest + 20);
    if (f[1] != NULL && strcmp(f[1], "?") == 0) {
        e->metadata = g_strdup("<guest><lab>");
    } else if (f[1] != NULL) {
        gboolean other = f[1][0] == '@';
        g_autoptr(VpLabRecord) r = vp_lab_record_new(other ? "another" : "ci",
                                                     f[1] + other, f[2]);
        g_autofree char *disk = g_strdup_printf("%s.qcow2", f[0]);
        vp_lab_record_add_volume(r, "default", disk);
        r->complete = f[3] == NULL || strchr(f[3], 'c') == NULL;
        e->metadata = vp_lab_record_to_xml(r);
    }
    return e;
}

/* A MAC of a spec: dashes for colons, or @GUEST/N (taking two fields of
 * F from *I on) for the first MAC derived for NIC N of GUEST. */
static char *
vp_spec_mac(GStrv f, guint *i)
{
    if (f[*i][0] == '@') {
        char *mac = vp_lab_mac("ci", f[*i] + 1, (guint)atoi(f[*i + 1]), 0);
        *i += 2;
        return mac;
    }
    char *mac = g_strdup(f[(*i)++]);
    g_strdelimit(mac, "-", ':');
    return mac;
}

/* A network of a host spec, as its daemon would give it. */
typedef struct {
    char *name;
    GString *xml;
    GString *hosts;   /* its <host/> reservations */
} VpSpecNet;

static void
vp_spec_net_free(gpointer data)
{
    VpSpecNet *n = data;

    g_free(n->name);
    g_string_free(n->xml, TRUE);
    g_string_free(n->hosts, TRUE);
    g_free(n);
}

/* "=NAME@CIDR[+[old|@]]" of host I of LAB. */
static VpSpecNet *
vp_spec_net(const VpLab *lab, guint i, const char *item)
{
    g_auto(GStrv) f = g_strsplit_set(item + 1, "@+", 3);
    VpSpecNet *n = g_new0(VpSpecNet, 1);
    VpIpv4Net net;
    gboolean parsed = vp_ipv4_net_parse(f[1], &net);
    g_autofree char *bridge = vp_ipv4_format(net.addr + 1);
    g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_MD5, item, -1);

    g_assert_true(parsed);
    n->name = g_strdup(f[0]);
    n->hosts = g_string_new(NULL);
    n->xml = g_string_new(NULL);
    g_string_append_printf(n->xml, "<network><name>%s</name><uuid>%.8s-%.4s-%.4s-%.4s-%.12s"
                           "</uuid>", f[0], digest, digest + 8, digest + 12, digest + 16,
                           digest + 20);
    if (f[2] != NULL) {
        const VpLabNetwork *ln = vp_lab_find_network(lab, f[0]);
        VpIpv4Net sub = { 0 };
        g_autofree char *text = NULL;
        if (ln != NULL) {
            vp_lab_host_subnet(&ln->cidr, i, &sub);
            g_autofree char *a = vp_ipv4_format(sub.addr);
            text = g_strdup_printf("%s/%u", a, sub.prefix);
        }
        g_autofree char *hash = ln != NULL && f[2][0] == '\0'
            ? vp_lab_net_hash(ln->cidr_text, vp_lab_net_mode_to_string(ln->mode),
                              ln->domain, text)
            : g_strdup("0ld");
        VpLabNetRecord rec = { .lab = strcmp(f[2], "@") == 0 ? "another" : "ci",
                               .key = f[0] + 3, .hash = hash };
        g_autofree char *xml = vp_lab_net_record_to_xml(&rec);
        g_string_append_printf(n->xml, "<metadata>%s</metadata>", xml);
    }
    g_string_append_printf(n->xml, "<ip address='%s' prefix='%u'><dhcp>", bridge,
                           net.prefix);
    return n;
}

/* The network, domain NIC, lease and record items of SPEC into H. */
static void
vp_host_networks(VpLabHostState *h, guint i, GStrv items, GPtrArray *domains)
{
    const VpLab *lab = h->run->plan->lab;
    g_autoptr(GPtrArray) nets = g_ptr_array_new_with_free_func(vp_spec_net_free);

    h->net_defs = g_ptr_array_new_with_free_func((GDestroyNotify)vp_network_def_free);
    h->macs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    h->net_users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_hash_table_unref);
    h->leases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    for (guint k = 0; items[k] != NULL; k++) {
        const char *it = items[k];
        g_auto(GStrv) f = g_strsplit(it + 1, "/", -1);
        guint at = 0;
        if (it[0] == '=') {
            g_ptr_array_add(nets, vp_spec_net(lab, i, it));
        } else if (it[0] == '>') {
            g_autofree char *mac = g_strdup(f[3]);
            g_strdelimit(mac, "-", ':');
            for (guint n = 0; n < nets->len; n++) {
                VpSpecNet *sn = g_ptr_array_index(nets, n);
                if (strcmp(sn->name, f[0]) == 0) {
                    g_string_append_printf(sn->hosts, "<host mac='%s' name='%s' ip='%s'/>",
                                           mac, f[1], f[2]);
                }
            }
        } else if (it[0] == '~') {
            g_auto(GStrv) range = g_strsplit(f[1], "-", 2);
            guint32 first = 0, last = 0;
            g_assert_true(vp_ipv4_parse(range[0], &first));
            g_assert_true(vp_ipv4_parse(range[1], &last));
            GPtrArray *leases = g_ptr_array_new_with_free_func((GDestroyNotify)vp_net_lease_free);
            for (guint32 a = first; a <= last; a++) {
                VpNetLease *l = g_new0(VpNetLease, 1);
                l->mac = g_strdup_printf("52:54:00:ff:%02x:%02x", (a >> 8) & 255, a & 255);
                l->ip = a;
                g_ptr_array_add(leases, l);
            }
            GPtrArray *old = g_hash_table_lookup(h->leases, f[0]);
            if (old != NULL) {
                g_ptr_array_extend_and_steal(old, leases);
            } else {
                g_hash_table_insert(h->leases, g_strdup(f[0]), leases);
            }
        } else if (it[0] == '*') {
            char *mac = vp_spec_mac(f, &at);
            const char *domain = f[at];
            g_hash_table_insert(h->macs, mac, g_strdup(domain));
            if (f[at + 1] != NULL) {
                GHashTable *users = g_hash_table_lookup(h->net_users, f[at + 1]);
                if (users == NULL) {
                    users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                    g_hash_table_insert(h->net_users, g_strdup(f[at + 1]), users);
                }
                g_hash_table_add(users, g_strdup(domain));
            }
        } else if (it[0] == '&') {
            for (guint d = 0; d < domains->len; d++) {
                VpDomainEntry *e = g_ptr_array_index(domains, d);
                if (strcmp(e->name, f[0]) != 0) {
                    continue;
                }
                g_autoptr(VpLabRecord) r = vp_lab_record_parse(e->metadata, NULL);
                g_autofree char *mac = g_strdup(f[4]);
                g_strdelimit(mac, "-", ':');
                VpLabNic nic = { .index = (guint)atoi(f[2]), .network = f[1], .mac = mac,
                                 .ip = f[3], .dhcp = TRUE };
                vp_lab_record_add_nic(r, &nic);
                g_free(e->metadata);
                e->metadata = vp_lab_record_to_xml(r);
            }
        }
    }
    for (guint n = 0; n < nets->len; n++) {
        VpSpecNet *sn = g_ptr_array_index(nets, n);
        g_autoptr(GError) error = NULL;
        g_string_append_printf(sn->xml, "%s</dhcp></ip></network>", sn->hosts->str);
        VpNetworkDef *def = vp_network_def_parse(sn->xml->str, &error);
        g_assert_no_error(error);
        g_ptr_array_add(h->net_defs, def);
    }
}

/* Host I of RUN as SPEC says. */
static void
vp_host(VpLabRun *run, guint i, const char *spec)
{
    VpLabHostState *h = g_ptr_array_index(run->hosts, i);
    g_auto(GStrv) items = g_strsplit(spec, " ", -1);
    GPtrArray *domains = g_ptr_array_new_with_free_func((GDestroyNotify)vp_domain_entry_free);

    if (strcmp(spec, "!") == 0) {
        h->report->error = g_strdup("connection refused");
        g_ptr_array_unref(domains);
        return;
    }
    h->ids = g_ptr_array_new_with_free_func(g_free);
    for (guint k = 0; items[k] != NULL; k++) {
        const char *it = items[k];
        if (it[0] == '\0') {
            continue;
        } else if (it[0] == '#') {
            h->hostname = g_strdup(it + 1);
        } else if (it[0] == '%') {
            g_ptr_array_add(h->ids, g_strdup(it + 1));
        } else if (strchr("=>~*&", it[0]) == NULL) {
            g_ptr_array_add(domains, vp_domain(it));
        }
    }
    vp_host_networks(h, i, items, domains);
    vp_lab_host_take(h, domains);
    /* Gone volumes, keyed as the read does: by the domain's own name. */
    for (guint k = 0; items[k] != NULL; k++) {
        g_auto(GStrv) f = g_strsplit(items[k], ":", 4);
        if (strchr("=>~*&", items[k][0]) == NULL && g_strv_length(f) == 4 && strchr(f[3], 'g') != NULL) {
            const VpDomainEntry *e = g_hash_table_lookup(h->by_name, f[0]);
            g_hash_table_insert(h->missing, e->name,
                                g_strdup_printf("'default/%s.qcow2'", f[0]));
        }
    }
}

/* What the report says of G besides its action: its error, else its note. */
static const char *
vp_said(const VpLabGuestReport *g)
{
    return g->error != NULL ? g->error : g->note;
}

/* "NAME ACTION HOST [message]" of each guest of R, for messages. */
static char *
vp_describe(const VpLabResult *r)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < r->guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(r->guests, i);
        g_string_append_printf(s, "%s%s %s %s%s%s", i > 0 ? " | " : "", g->name,
                               vp_lab_action_to_string(g->action),
                               g->host != NULL ? g->host : "-",
                               vp_said(g) != NULL ? " " : "",
                               vp_said(g) != NULL ? vp_said(g) : "");
    }
    return g_string_free(s, FALSE);
}

/* The report callback: counts the guests reported during the plan. */
static void
vp_count_report(const VpLabGuestReport *g, guint total, gpointer data)
{
    (*(guint *)data)++;
}

static void
vp_plan_free(gpointer data)
{
    VpProvisionPlan *p = data;

    g_clear_pointer(&p->domain.nics, g_ptr_array_unref);
    g_free(p);
}

/* The planned NICs of guest NAME on network NET of RUN's creates. */
static const VpNic *
vp_planned_nic(const VpLabRun *run, const char *name, const char *net)
{
    for (guint i = 0; i < run->tasks->len; i++) {
        const VpLabTask *t = g_ptr_array_index(run->tasks, i);
        if (t->plan == NULL || !g_hash_table_contains(run->busy, t->report) ||
            strcmp(t->report->name, name) != 0) {
            continue;
        }
        for (guint k = 0; t->plan->domain.nics != NULL && k < t->plan->domain.nics->len; k++) {
            const VpNic *nic = g_ptr_array_index(t->plan->domain.nics, k);
            if (g_strcmp0(nic->source, net) == 0) {
                return nic;
            }
        }
    }
    return NULL;
}

/* The network reports and planned identities of ROW; and, for every
 * row, each planned MAC unique on its host and address in its copy. */
static void
vp_check_networks(const VpNetRow *row, const VpLabRun *run)
{
    static const VpNetRow none = { .networks = NULL };

    row = row != NULL ? row : &none;
    const VpLabResult *r = run->result;
    g_autoptr(GString) got = g_string_new(NULL);
    g_auto(GStrv) want = g_strsplit(row->nets != NULL ? row->nets : "", " | ", -1);

    for (guint i = 0; i < r->networks->len; i++) {
        const VpLabNetReport *n = g_ptr_array_index(r->networks, i);
        g_string_append_printf(got, "%s%s %s %s %s%s%s", i > 0 ? " | " : "", n->name,
                               n->host, vp_lab_action_to_string(n->action),
                               n->subnet != NULL ? n->subnet : "-",
                               n->error != NULL ? " " : "", n->error != NULL ? n->error : "");
    }
    g_test_message("  networks got:  %s\n  networks want: %s", got->str,
                   row->nets != NULL ? row->nets : "");
    g_assert_cmpuint(r->networks->len, ==, want[0] != NULL ? g_strv_length(want) : 0);
    for (guint i = 0; i < r->networks->len; i++) {
        const VpLabNetReport *n = g_ptr_array_index(r->networks, i);
        g_auto(GStrv) f = g_strsplit(want[i], " ", 5);
        g_assert_cmpstr(n->name, ==, f[0]);
        g_assert_cmpstr(n->host, ==, f[1]);
        g_assert_cmpstr(vp_lab_action_to_string(n->action), ==, f[2]);
        g_assert_cmpstr(n->subnet != NULL ? n->subnet : "-", ==, f[3]);
        if (f[4] != NULL) {
            g_assert_nonnull(n->error);
            g_assert_nonnull(strstr(n->error, f[4]));
        } else {
            g_assert_null(n->error);
        }
    }
    g_auto(GStrv) ids = g_strsplit(row->ids != NULL ? row->ids : "", " | ", -1);
    for (guint i = 0; ids[i] != NULL && ids[i][0] != '\0'; i++) {
        g_auto(GStrv) f = g_strsplit(ids[i], " ", 4);
        const VpNic *nic = vp_planned_nic(run, f[0], f[1]);
        g_assert_nonnull(nic);
        if (strcmp(f[2], "*") != 0) {
            g_assert_cmpstr(nic->ip, ==, f[2]);
        }
        if (f[3] != NULL && f[3][0] == '#') {
            g_autofree char *mac = vp_lab_mac("ci", f[0], 0, (guint)atoi(f[3] + 1));
            g_assert_cmpstr(nic->mac, ==, mac);
        } else if (f[3] != NULL) {
            g_assert_cmpstr(nic->mac, ==, f[3]);
        }
    }
    /* Every planned NIC on a lab network: its MAC unique on its host, its
     * address in its host's /24 and unique there. */
    for (guint i = 0; i < run->hosts->len; i++) {
        const VpLabHostState *h = g_ptr_array_index(run->hosts, i);
        g_autoptr(GHashTable) macs = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GHashTable) addrs = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint k = 0; k < h->tasks->len; k++) {
            const VpLabTask *t = g_ptr_array_index(h->tasks, k);
            for (guint n = 0; t->plan != NULL && t->plan->domain.nics != NULL &&
                              n < t->plan->domain.nics->len; n++) {
                const VpNic *nic = g_ptr_array_index(t->plan->domain.nics, n);
                const VpLabHostNet *hn = nic->source != NULL ? vp_lab_host_net(h, nic->source)
                                                             : NULL;
                guint32 addr;
                if (hn == NULL) {
                    continue;
                }
                g_assert_nonnull(nic->mac);
                g_assert_false(g_hash_table_contains(macs, nic->mac));
                g_hash_table_add(macs, nic->mac);
                g_assert_true(vp_ipv4_parse(nic->ip, &addr));
                g_assert_true(vp_ipv4_net_contains(&hn->subnet, addr));
                g_assert_false(g_hash_table_contains(addrs, nic->ip));
                g_hash_table_add(addrs, nic->ip);
            }
        }
    }
}

static void
vp_run_row(const VpPlanRow *row, const VpNetRow *net)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = g_strdup_printf(
        "lab: ci\nhosts:\n  h1: test:///h1.xml\n  h2: test:///h2.xml\n"
        "  h3: test:///h3.xml\n%sdefaults: {pool: default, size: 1G}\nguests:\n%s",
        net != NULL && net->networks != NULL ? net->networks : "", row->guests);
    g_autoptr(VpLab) lab = vp_lab_parse(text, strlen(text), "lab.yaml", NULL, &error);
    g_assert_no_error(error);

    /* What the command line makes of each guest: only what the plan reads. */
    g_autoptr(GPtrArray) plans = g_ptr_array_new_with_free_func(vp_plan_free);
    g_auto(GStrv) hashes = g_new0(char *, lab->guests->len + 1);
    g_auto(GStrv) given = g_strsplit(row->hashes != NULL ? row->hashes : "", " ", -1);
    for (guint i = 0; i < lab->guests->len; i++) {
        const VpLabGuest *lg = g_ptr_array_index(lab->guests, i);
        VpProvisionPlan *p = g_new0(VpProvisionPlan, 1);
        p->pool = "default";
        p->image.format = VP_FORMAT_QCOW2;
        const char *network = g_hash_table_lookup(lg->options, "network");
        if (network != NULL) {
            g_auto(GStrv) values = g_strsplit(network, "\n", -1);
            const char *bad = NULL;
            g_assert_true(vp_nics_parse((const char *const *)values, &p->domain.nics, &bad));
        }
        g_ptr_array_add(plans, p);
        hashes[i] = g_strdup("H");
        for (guint k = 0; given[k] != NULL; k++) {
            g_auto(GStrv) kv = g_strsplit(given[k], "=", 2);
            if (kv[1] != NULL && strcmp(kv[0], lg->manifest_name) == 0) {
                g_free(hashes[i]);
                hashes[i] = g_strdup(kv[1]);
            }
        }
    }
    guint reported = 0;
    VpLabPlan plan = { .run = { .option_name = vp_option_name }, .lab = lab,
                       .plans = plans,
                       .command = row->command == STATUS    ? VP_LAB_STATUS
                                  : row->command == DESTROY ? VP_LAB_DESTROY
                                                            : VP_LAB_APPLY,
                       .dry_run = row->command == DRY_RUN,
                       .replace = row->replace, .prune = row->prune, .jobs = 1,
                       .report = vp_count_report, .report_data = &reported };
    g_auto(VpLabResult) r = { 0 };
    VpLabRun run;

    vp_lab_run_init(&run, &plan, &r);
    for (guint i = 0; i < N_HOSTS; i++) {
        vp_host(&run, i, row->hosts[i]);
    }
    gboolean ok = vp_lab_check_identity(&run, &error);
    if (g_str_has_prefix(row->want, "error: ")) {
        g_assert_false(ok);
        g_assert_error(error, VP_ERROR, VP_ERROR_INVALID);
        g_assert_nonnull(strstr(error->message, row->want + strlen("error: ")));
        vp_lab_run_clear(&run);
        return;
    }
    g_assert_no_error(error);
    gboolean act = vp_lab_plan_acts(&plan);
    vp_lab_plan_all(&run, hashes, act);

    g_autofree char *got = vp_describe(&r);
    g_auto(GStrv) want = g_strsplit(row->want, " | ", -1);
    g_test_message("%s\n  got:  %s\n  want: %s", row->why, got, row->want);
    g_assert_cmpuint(r.guests->len, ==, row->want[0] != '\0' ? g_strv_length(want) : 0);
    for (guint i = 0; i < r.guests->len; i++) {
        const VpLabGuestReport *g = g_ptr_array_index(r.guests, i);
        g_auto(GStrv) f = g_strsplit(want[i], " ", 4);
        g_assert_cmpstr(g->name, ==, f[0]);
        g_assert_cmpstr(vp_lab_action_to_string(g->action), ==, f[1]);
        g_assert_cmpstr(g->host != NULL ? g->host : "-", ==, f[2]);
        if (f[3] != NULL) {
            g_assert_nonnull(vp_said(g));
            g_assert_nonnull(strstr(vp_said(g), f[3]));
        } else {
            g_assert_null(vp_said(g));
        }
    }
    vp_check_networks(net, &run);
    /* A run that changes nothing (status, --dry-run) has every guest
     * reported now; one that acts, those without a task. */
    g_assert_cmpuint(reported, ==,
                     act ? r.guests->len - g_hash_table_size(run.busy) : r.guests->len);
    vp_lab_run_clear(&run);
}

static void
vp_check_row(gconstpointer data)
{
    vp_run_row(data, NULL);
}

static void
vp_check_net_row(gconstpointer data)
{
    const VpNetRow *net = data;

    vp_run_row(&net->row, net);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autofree char *path = g_strdup_printf("/lab-plan/%02zu", i + 1);
        g_test_add_data_func(path, &rows[i], vp_check_row);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(net_rows); i++) {
        g_autofree char *path = g_strdup_printf("/lab-plan/networks/%02zu", i + 1);
        g_test_add_data_func(path, &net_rows[i], vp_check_net_row);
    }
    return g_test_run();
}
