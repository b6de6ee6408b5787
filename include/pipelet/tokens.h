/*
 * pipelet/tokens.h — customers and ID tokens: who may charge (ABI 1.2).
 *
 * The core owns the decision.  A token presented by a station (Authorize,
 * StartTransaction, StopTransaction, TransactionEvent) goes through one chain:
 *   1. the token table, kept in memory and exact (every change made through this API
 *      is applied the moment it is committed; changes made with plain SQL are picked
 *      up within [core] token_refresh seconds): status, expiry, group, the customer's
 *      state, the stations the token is limited to, and ConcurrentTx when the token
 *      is already charging at another station and its customer may not do that;
 *   2. for a token the table does not know, the remote authorizers plugins registered
 *      (a roaming hub, a contract-certificate check), in registration order, each
 *      answering accept / reject / defer within [core] auth_remote_timeout ms;
 *   3. [core] auth_unknown (reject unless the configuration says accept).
 * While the table has never been loaded (the database was down since the start) and
 * no remote authorizer decides, there is no decision: pl_auth_cb gets NULL and the
 * protocol plugin answers with a CALLERROR.  Every decision is published as
 * "authorization.decided" {"id_token","type","station_id","status","reason"} and
 * counted in pipelet_authorizations_total{status,reason}.
 *
 * Ownership follows pipelet/plugin.h.  Everything runs on the loop thread.
 */
#ifndef PIPELET_TOKENS_H
#define PIPELET_TOKENS_H

#include <pipelet/station.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A token as a station (or an API caller) presents it.  All borrowed. */
struct pl_id_token {
    uint32_t size;          /* sizeof(struct pl_id_token) */
    const char *value;      /* idTag (1.6) or idToken (2.0.1) */
    const char *type;       /* IdTokenEnumType ("ISO14443", "eMAID", ...); NULL = any (1.6) */
    const char *station_id; /* where it is presented; NULL when not at a station */
    int evse;               /* 0 = unknown */
    json_t *hash_data;      /* 2.0.1 iso15118CertificateHashData, or NULL */
    /* ABI 1.2, read when size covers it: the contract certificate chain (PEM) of a 2.0.1
     * Authorize, or NULL.  With hash_data or certificate set and a certificate provider
     * that checks contracts (pipelet/certs.h contract_status), the contract is checked
     * first and the decision carries "certificate_status". */
    const char *certificate;
};

/* ---- remote authorizers ---- */
enum pl_authz_verdict {
    PL_AUTHZ_ACCEPT = 1, /* info: {"status":"Accepted", "expiry"?, "group"?, ...} */
    PL_AUTHZ_REJECT = 2, /* info: {"status":"Blocked"|"Invalid"|"Expired"|...} */
    PL_AUTHZ_DEFER = 3,  /* not mine: the next authorizer decides */
};
typedef struct pl_authz_request pl_authz_request;

struct pl_authorizer {
    uint32_t size;
    const char *name;   /* appears in the decision's reason: "remote:<name>" */
    /* Asked about a token the table does not know.  Answer exactly once with
     * tokens->authz_answer(req, ...), now or later.  After the deadline the chain has
     * moved on: the answer is still accepted (and freed) but changes nothing. */
    void (*ask)(void *arg, const struct pl_id_token *tok, pl_authz_request *req);
    void *arg;
};

/* The result of a domain call: rc is PL_OK, PL_EINVAL (error says which field, and for
 * an import which row), PL_ENOENT, PL_EEXIST (a unique value taken) or PL_ERR
 * (database); result is borrowed, NULL unless PL_OK. */
typedef void (*pl_domain_cb)(void *arg, int rc, json_t *result, const char *error);

struct pl_tokens_api {
    uint32_t size;
    /* The chain above.  cb may run before this returns. */
    void (*authorize)(const struct pl_id_token *tok, pl_auth_cb cb, void *arg);
    int (*add_authorizer)(pl_plugin_handle *self, const struct pl_authorizer *a);
    void (*authz_answer)(pl_authz_request *req, int verdict, json_t *info /* stolen, may be NULL */);
    /* Customers, tokens, local lists.  args stolen.  Operations and their arguments:
     *  customer.create {"name", "email"?, "phone"?, "external_ref"?, "language"?,
     *                   "status"?: "active"|"suspended", "allow_concurrent"?, "charging_priority"? (0..100: on a balanced site, lower ones wait first),
     *                   "customer_group_id"? (null leaves the group), "metadata"?}
     *  customer.get {"id"}            customer.update {"id", fields...}
     *  customer.delete {"id"}         (its tokens stay, without a customer)
     *  customer.list {"status"?, "q"?, "customer_group_id"?, "limit"?, "cursor"?}
     *                -> {"items", "next_cursor"}
     *  customer_group.create {"name" (unique), "description"?}  (ABI 1.2)
     *  customer_group.get {"id"}  customer_group.update {"id", fields...}
     *  customer_group.delete {"id"} (its customers stay, without a group; its tariff
     *                assignments end with it)
     *  customer_group.list {"q"?, "limit"?, "cursor"?} -> {"items", "next_cursor"}; a group
     *                is answered as {"id", "name", "description", "customers" (members),
     *                "created_at", "updated_at"}
     *  token.create {"id_token", "type"?, "status"?, "expiry"?, "group_id"?,
     *                "customer_id"?, "contract_id"?, "stations"?: [ids]}
     *  token.get {"id"}  token.update {"id", fields...}
     *  token.delete {"id"} -> {"deleted":true} or, with transactions, {"deactivated":true}
     *  token.list {"status"?, "type"?, "customer_id"?, "q"?, "active"?, "limit"?, "cursor"?}
     *  token.block {"id"} / token.unblock {"id"} -> the token plus "propagation":
     *                {"local_list":[station ids], "clear_cache":[...], "unreachable":[...]}
     *  tokens.import {"tokens": [token.create args...]} -> {"imported": N}; all or nothing
     *  local_list.sync {"station_id", "update_type"?: "Full"|"Differential"}
     *                -> {"station_id", "command_id", "version", "update_type", "entries"}
     * A token is answered as {"id","id_token","type","status","expiry","group_id",
     * "customer_id","contract_id","stations","active","created_at","updated_at"}. */
    void (*call)(const char *op, json_t *args, pl_domain_cb cb, void *arg);
    /* The table's view of a token (new), or NULL: {"status", ...} as above. */
    json_t *(*lookup)(const char *value, const char *type);
};

#ifdef __cplusplus
}
#endif
#endif
