/* A lab's ownership record: what a guest of a lab carries on its host, in
 * the domain's <metadata> under the project's own namespace, so that
 * apply, status and destroy know what is theirs without any state file
 * of their own (design.md, "Labs").
 *
 *     <vp:guest xmlns:vp="http://virt-provision.org/xmlns/lab/1">
 *       <vp:lab>ci-42</vp:lab>
 *       <vp:entry>web</vp:entry>
 *       <vp:options-hash>9f2c…</vp:options-hash>
 *       <vp:salt>5d0e…</vp:salt>
 *       <vp:state>complete</vp:state>
 *       <vp:base sha256="3b1f…">default/debian-3b1f0c2a9e77.qcow2</vp:base>
 *       <vp:volume pool="default">web-1.qcow2</vp:volume>
 *       <vp:volume pool="default">web-1-cidata.iso</vp:volume>
 *       <vp:nic index="0" network="ci-42-lan" mac="52:54:00:3a:0c:91"
 *               ip="10.88.1.141" dhcp="yes" dns="no"/>
 *     </vp:guest>
 *
 * The record names every volume the guest's run creates, written before
 * the first of them exists: a run that dies half-way leaves a record
 * naming more than there is, never a volume nobody owns.  Its state says
 * which: "creating" in the definition made first, "complete" in the one
 * that replaces it once every volume is in place.
 *
 * A nic names a NIC's identity on a lab network (its MAC and address, kept
 * by a re-apply and a --replace) and every entry the guest's run added to
 * a network: dhcp="yes" its reservation (MAC, guest name, ip), dns="yes"
 * its DNS host (ip: NAME and NAME.DOMAIN).  A lab network's DNS names are
 * not the guest's but the lab's, synchronised over all its copies: a nic
 * there says dns="no".  Teardown removes what a nic says was added, and
 * nothing else.
 *
 * A lab network carries its own record in its <metadata>, written in the
 * definition that creates it (libvirt 9.0 cannot change a network's
 * metadata in place):
 *
 *     <vp:network xmlns:vp="http://virt-provision.org/xmlns/lab/1">
 *       <vp:lab>ci-42</vp:lab>
 *       <vp:key>lan</vp:key>
 *       <vp:hash>41c7…</vp:hash>
 *     </vp:network>
 *
 * Anyone who can define a domain can write a record: what it claims is
 * proved against the host before anything is deleted (lab-proof.h).  The
 * options hash is salted per guest, so that a reader of the record cannot
 * test guesses of the guest's files against a table made once for all. */
#pragma once

#include <glib.h>

#define VP_LAB_RECORD_NS "http://virt-provision.org/xmlns/lab/1"
#define VP_LAB_RECORD_PREFIX "vp"

typedef struct {
    char *pool;
    char *name;
} VpLabVolume;

/* A NIC's identity and the entries its guest added (see above). */
typedef struct {
    guint index;      /* the NIC's place among the guest's NICs, from 0 */
    char *network;    /* the libvirt network's name on the host */
    char *mac;        /* lower case */
    char *ip;         /* dotted quad; NULL: none reserved */
    gboolean dhcp;    /* the guest added the reservation (mac, name, ip) */
    gboolean dns;     /* the guest added the DNS host of ip */
} VpLabNic;

typedef struct {
    char *lab;
    char *entry;      /* the manifest entry: "web" for web-1 */
    char *hash;       /* vp_lab_salted_hash() of the options when it was made */
    char *salt;       /* hex; NULL in records made before salting */
    char *base;       /* "POOL/VOLUME" of the base a local file became */
    char *base_sha256; /* that file's content digest (vp_content_digest) */
    GPtrArray *volumes; /* VpLabVolume *, in the order they are created */
    GPtrArray *nics;    /* VpLabNic *, in NIC order */
    gboolean complete;  /* every volume made and the final domain defined */
} VpLabRecord;

/* A new record of LAB's guest of manifest entry ENTRY with options hash
 * HASH (all copied), naming no volume yet, not complete. */
VpLabRecord *vp_lab_record_new(const char *lab, const char *entry,
                               const char *hash);

/* HASH (an options hash) salted with SALT (hex): the lowercase hex
 * SHA-256 of both.  A NULL SALT gives HASH itself, as records made before
 * salting hold it.  Caller frees. */
char *vp_lab_salted_hash(const char *hash, const char *salt);

/* A new random salt, as hex.  Caller frees. */
char *vp_lab_new_salt(void);

/* Adds volume NAME of POOL (copied) to R. */
void vp_lab_record_add_volume(VpLabRecord *r, const char *pool,
                              const char *name);

/* Adds a copy of NIC to R. */
void vp_lab_record_add_nic(VpLabRecord *r, const VpLabNic *nic);
void vp_lab_nic_free(VpLabNic *nic);

/* R's nic on network NETWORK, or NULL.  Borrowed. */
const VpLabNic *vp_lab_record_nic(const VpLabRecord *r, const char *network);

void vp_lab_record_free(VpLabRecord *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpLabRecord, vp_lab_record_free)

/* R as one <guest> element of VP_LAB_RECORD_NS, the text a domain's
 * <metadata> or virDomainSetMetadata takes.  Caller frees. */
char *vp_lab_record_to_xml(const VpLabRecord *r);

/* Parses XML, a <guest> element of VP_LAB_RECORD_NS (whatever its prefix)
 * or of no namespace, as virDomainGetMetadata returns it.  A record that lacks its
 * lab, entry or hash, names a volume without a pool or name, or a nic
 * without its network or MAC, with a malformed address, or a
 * reservation or DNS entry without an address, fails
 * with VP_ERROR_INVALID: such a domain is not counted as anybody's.
 * Returns a new record. */
VpLabRecord *vp_lab_record_parse(const char *xml, GError **error);

/* A lab network's record (see above). */
typedef struct {
    char *lab;
    char *key;        /* the manifest's key: "lan" of network "ci-42-lan" */
    char *hash;       /* vp_lab_net_hash() of it when it was made */
} VpLabNetRecord;

void vp_lab_net_record_free(VpLabNetRecord *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VpLabNetRecord, vp_lab_net_record_free)

/* The lowercase hex SHA-256 of what makes a copy of a lab network what it
 * is: the manifest's CIDR, MODE and DOMAIN (NULL: none) and the host's
 * SUBNET, all as text.  A change of any is drift.  Caller frees. */
char *vp_lab_net_hash(const char *cidr, const char *mode, const char *domain,
                      const char *subnet);

/* R as one <network> element of VP_LAB_RECORD_NS.  Caller frees. */
char *vp_lab_net_record_to_xml(const VpLabNetRecord *r);

/* Parses XML, a <network> element of VP_LAB_RECORD_NS (any prefix) or of
 * no namespace.  One that lacks its lab, key or hash fails with
 * VP_ERROR_INVALID: such a network is nobody's.  Returns a new record. */
VpLabNetRecord *vp_lab_net_record_parse(const char *xml, GError **error);
