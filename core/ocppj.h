/*
 * ocppj.h — the OCPP-J RPC layer (server and client) behind struct pl_ocpp_api.
 */
#ifndef PIPELET_OCPPJ_H
#define PIPELET_OCPPJ_H

#include "core.h"

/* Reads [ocpp] and binds the listener. */
int ocppj_init(void);
int ocppj_port(void);
int ocppj_tls_port(void); /* the wss:// listener's port, or -1 */
/* First call: stop listening and close every connection with 1001 (graceful).
 * Later calls: drop what is still open. */
void ocppj_shutdown(void);
/* After the plugins are gone: frees closed connections whose CALLs were never answered. */
void ocppj_free_closed(void);
json_t *ocppj_stats(void);
const struct pl_ocpp_api *ocppj_api(void);
/* Remove every handler registered by owner (a plugin going away); returns how many. */
int ocppj_remove_owner(pl_plugin_handle *owner);

/* A parsed OCPP-J frame (pure; used by the fuzzer). */
struct ocppj_frame {
    int type;                 /* 2, 3, 4 */
    const char *id;
    const char *action;       /* CALL */
    json_t *payload;          /* CALL / CALLRESULT payload, CALLERROR details */
    const char *error_code;   /* CALLERROR */
    const char *error_description;
    json_t *root;             /* owns everything above: json_decref when done */
};
enum {
    OCPPJ_OK = 0,
    OCPPJ_BAD_JSON = -1,      /* not JSON or not an array: no message id */
    OCPPJ_BAD_FRAME = -2,     /* id known, structure wrong */
    OCPPJ_BAD_TYPE = -3,      /* unknown message type (id known when f->id is set) */
};
int ocppj_parse_frame(const char *text, size_t len, struct ocppj_frame *f, char *err, size_t errlen);

#endif
