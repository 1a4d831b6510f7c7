/*
 * policy_internal.h — what the files of the endorsement policy module share
 * and nobody else sees (the contract is in policy.h).
 *
 * The module is split by concern:
 *   policy.c          the parser and the canonical text;
 *   policy_resolve.c  resolution against state (principals, key policies,
 *                     the ledger's guards) and the read set;
 *   policy_eval.c     the questions asked of a resolved policy: is it
 *                     satisfied, and which organisations to ask (the plan).
 *
 * Representation. A parsed policy is one flat, fixed-size struct: its nodes
 * in preorder (a combinator is followed by its entries' subtrees; `size`
 * says how many nodes its subtree spans, so walking needs no pointers), a
 * buffer of the names the principals carry, and the canonical text. Being
 * flat, a policy is copied into a resolved policy by assignment, so the
 * resolved policy owns what it refers to and the caller may drop the
 * policy it resolved. Each node remembers where its own canonical text
 * lies in the policy's text: messages quote the principal exactly as it
 * is written ("(lienholder?)") without re-printing.
 *
 * A resolved policy is a conjunction of parts (the function's policy, key
 * policies, guards), each a copy of a policy with, per node, what it
 * resolved to. A guard is a part whose policy is the single principal
 * org:<name>, with the reason it is needed.
 *
 * Invariants:
 *   1. nodes[0] is the root; for every node i, i + nodes[i].size <=
 *      n_nodes, and a combinator's entries tile (i, i + size) exactly.
 *   2. the canonical text is never longer than the text parsed (it only
 *      drops whitespace and leading zeros), so it fits POLICY_TEXT_MAX.
 *   3. in a resolved part, a principal that is not dropped has a non-empty
 *      candidate set of valid organisation indices; a combinator that is
 *      not dropped has 1 <= k <= its live entries. So every resolved
 *      policy is satisfiable (by all organisations at once), and
 *      policy_plan always finds a plan.
 */
#ifndef VL_POLICY_INTERNAL_H
#define VL_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Node kinds; the combinators come first. */
enum {
    POLICY_NODE_ALL,
    POLICY_NODE_ANY,
    POLICY_NODE_KOF,
    POLICY_NODE_ROLE,       /* role:<name> */
    POLICY_NODE_ORG,        /* org:<name> */
    POLICY_NODE_ID,         /* id:<DID> */
    POLICY_NODE_OWNER,
    POLICY_NODE_LIEN,       /* lienholder */
    POLICY_NODE_ARG,        /* arg:<field> */
    POLICY_NODE_ANYORG,     /* the principal `any` */
    POLICY_NODE_CREATOR,    /* creator */
    POLICY_NODE_VEHICLE,    /* vehicle:<path> */
};

#define POLICY_NODE_IS_GATE(kind) ((kind) <= POLICY_NODE_KOF)
#define POLICY_FIELD_MAX 63     /* bytes of an arg: field or a vehicle: path */

typedef struct {
    uint8_t kind;
    bool optional;
    uint8_t role;           /* POLICY_NODE_ROLE: an org_role_t */
    uint16_t k;             /* KOF as written; ALL: entries; ANY: 1 */
    uint16_t size;          /* nodes in this subtree, this one included */
    uint16_t name;          /* ORG, ID, ARG, VEHICLE: offset into names */
    uint16_t text_off;      /* this subtree's canonical text in text */
    uint16_t text_len;
} policy_node_t;

struct policy_t {
    policy_node_t nodes[POLICY_NODES_MAX];    /* preorder, invariant 1 */
    size_t n_nodes;
    char names[POLICY_TEXT_MAX + POLICY_NODES_MAX + 1];   /* NUL-separated */
    size_t names_len;
    char text[POLICY_TEXT_MAX + 1];       /* canonical, NUL-terminated */
    size_t text_len;
};

typedef struct {
    bool dropped;
    uint16_t k;             /* combinators: entries needed, after drops */
    org_set_t cand;         /* principals: any one of these satisfies it */
} policy_rnode_t;

typedef struct {
    policy_t policy;        /* a copy: the resolved policy owns it */
    char *label;            /* owned: "" for the function's policy and guards,
                               "key <key>: " for a key policy */
    char *vin;              /* owned or NULL: the vehicle owner/lienholder/
                               vehicle: mean */
    char *reason;           /* owned, NULL but for a guard: why its one
                               organisation is needed ("wallet/D is debited"),
                               quoted in messages instead of the principal */
    policy_rnode_t r[POLICY_NODES_MAX];   /* per node of policy */
} policy_part_t;

struct policy_resolved_t {
    const orgs_t *orgs;     /* borrowed: the network's organisations */
    policy_part_t *parts;   /* owned; parts[i] all must be satisfied */
    size_t n_parts;
    policy_read_t *reads;   /* owned, keys owned */
    size_t n_reads;
};

/* A byte of a name: [A-Za-z0-9_-]. */
static inline bool
policy_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}
#endif
