/*
 * simulator.h — virtual OCPP 1.6 / 2.0.1 charging stations: the fleet, each station's
 * state machine and meter, faults, the /sim/v1 REST API, the SSE stream and the
 * load-test report.
 */
#ifndef SIMULATOR_H
#define SIMULATOR_H

#include <pipelet/pipelet.h>

/* openapi.json, embedded at build time (plugins/local.mk) */
extern const char simulator_openapi_json[];
extern const unsigned long simulator_openapi_json_len;

#define SIM_MAX_CONNECTORS 8
#define SIM_MAX_QUEUE 1000
#define SIM_NKEYS 9
#define SIM_SLOTS 4                /* 2.0.1 network configuration slots */
#define SIM_ID_MAX 48              /* longest station id the simulator accepts */
#define SIM_ALLOW_MAX 32           /* entries of an allow list */
#define SIM_REDACTED "***"         /* what a credential becomes in /sim/v1/events */

enum sim_state { SIM_OFFLINE, SIM_CONNECTING, SIM_BOOTING, SIM_ACCEPTED };

struct sim_connector {
    char status[24];
    int plugged, available, reserved;
    int tx_active, tx_pending;     /* pending: StartTransaction sent, no id yet */
    char tx_id[96];
    char id_tag[24];
    char id_type[16];              /* 2.0.1 IdTokenEnumType of the session's token ("" = ISO14443) */
    double energy_wh;              /* register: integrates power */
    double power_w;
    double limit_w;                /* what its charging profiles allow now (W); < 0 = no limit */
    double tx_w, def_w;            /* TxProfile (this session), TxDefaultProfile; < 0 = none */
    int tx_prof, def_prof;         /* their profile ids */
    double ev_max_w;               /* the EV takes at most this; 0 = what the station gives */
    double soc;                    /* DC only */
    uint64_t started_ms, stop_at_ms;
    int seq_no;
};

struct sim_key {
    const char *name;
    char value[128];
    int readonly;
};

struct sim_fault {
    int drop_responses;            /* ignore CSMS calls */
    long delay_ms;                 /* answer CSMS calls late */
    char callerror_action[48];     /* answer this action (or "*") with a CALLERROR */
    long clock_skew_s;
    int firmware_install_failure;
};

/* What /sim/v1 clients may point stations at.  The lists are the operator's
 * ([simulator] allowed_csms_urls, allowed_ca_files); own_url is this gateway's OCPP
 * listener, always allowed. */
struct sim_policy {
    char own_url[256];
    char *csms_urls_buf, *ca_files_buf;  /* owned; the entries point into them */
    const char *csms_urls[SIM_ALLOW_MAX];
    size_t ncsms_urls;
    const char *ca_files[SIM_ALLOW_MAX];
    size_t nca_files;
};

struct sim;
struct sim_ca;
struct sim_station {
    struct sim *sim;
    char id[64];
    char fleet[40];
    char source_addr[16];          /* local address to connect from, or "" */
    int v201;
    char *url, *password;
    char *ca_file;                 /* wss://: CA certificates of the CSMS, or NULL */
    char *client_cert, *client_key;/* its certificate (PEM chain) and key, or NULL (security.c) */
    int profile;                   /* the security profile it connects with */
    char *tls_url;                 /* wss:// URL for profiles 2 and 3, or NULL */
    char *pending_key;             /* the key of the CSR last sent, until CertificateSigned */
    struct { char *url; int profile; } slots[SIM_SLOTS]; /* 2.0.1 network profiles */
    int priority_slot;             /* 2.0.1 NetworkConfigurationPriority, applied at reboot */
    uint64_t reconnect_at;         /* a security change: reconnect once the answer went out */
    char vendor[32], model[32], firmware[48];
    int dc;
    int nconn;
    struct sim_connector conn[SIM_MAX_CONNECTORS];
    struct sim_key keys[SIM_NKEYS];
    pl_ocpp_conn *c;
    enum sim_state state;
    int want_connected;
    unsigned backoff_ms;
    pl_timer *tick;
    uint64_t next_heartbeat, next_meter, next_reconnect, last_tick;
    long heartbeat_s, meter_s;
    double max_power_w;
    double max_w;                  /* ChargePointMaxProfile / ChargingStationMaxProfile; < 0 = none */
    int max_prof;
    int local_list_version;
    json_t *queue;                 /* offline: [{action, payload}] in order */
    json_t *certificates;          /* installed certificate hash data */
    struct sim_fault fault;
    int auto_sessions;
    double arrival_per_hour, duration_mean_s, duration_sd_s;
    int fw_step;                   /* firmware update walk, 0 = idle */
    char fw_new[48];
    int reboot_pending;
    int id_taken_logged;           /* a real station holds our id: said once */
    uint64_t reset_at;             /* Reset: reboot after the answer went out */
    unsigned rng;
    struct sim_station *next;
};

struct sim_latency {
    char action[40];
    uint64_t count, errors;
    double *samples;               /* reservoir */
    size_t nsamples;
    double max;
};

struct sim {
    const struct pl_host *host;
    pl_plugin_handle *self;
    const struct pl_ocpp_api *ocpp;
    struct sim_station *stations;
    size_t nstations;
    pl_subscription *bus;
    struct sse_client *sse;
    pl_timer *ramp, *report_timer, *sse_ping;
    struct sim_station *ramp_next;
    long ramp_per_s;
    int closed_loop;               /* send again as soon as answered (benchmark) */
    int closed_loop_kind;          /* ... enum sim_loop: what the closed loop sends */
    int closed_loop_running;       /* starts once every station has booted */
    int heartbeat_fixed;
    int validate;                  /* validate our own frames (off for load generation) */
    long source_spread;            /* bind station i to 127.0.0.(1 + i % N): past 64k ports */
    unsigned long created;           /* keep our heartbeat interval, ignore the CSMS's (benchmark) */
    struct sim_latency lat[48];
    size_t nlat;
    uint64_t started_ms, reconnects, sent, received, errors;
    uint64_t outstanding;          /* calls handed to the OCPP layer, not answered yet (not reset) */
    const char *report_file;
    long run_seconds;
    int fleet_seq;
    struct sim_policy policy;
    struct sim_ca *client_ca;      /* the CA station certificates are issued from (security.c) */
    /* [simulator] autostart_*, read at init so a bad value refuses the plugin */
    long autostart_count, heartbeat_s, meter_interval_s;
    int autostart_sessions;
};

/* station.c */
struct sim_station *sim_station_new(struct sim *s, const char *id, json_t *tpl, const char *fleet);
void sim_station_free(struct sim_station *st);
void sim_station_connect(struct sim_station *st);
void sim_station_closed_loop(struct sim_station *st); /* begin the benchmark loop */
void sim_station_disconnect(struct sim_station *st, int abort);
int sim_station_plug(struct sim_station *st, int connector, int plugged);
int sim_station_start(struct sim_station *st, int connector, const char *id_tag);
/* Plug & Charge (ISO 15118): the EV presents its contract (emaid, and hash_data and/or
 * certificate as OCPP 2.0.1 Authorize carries them; 1.6: the OCA application note's
 * DataTransfer); the session starts with the eMAID when the CSMS accepts it. */
int sim_station_plug_and_charge(struct sim_station *st, int connector, const char *emaid, json_t *hash_data,
                                const char *certificate);
int sim_station_stop(struct sim_station *st, int connector, const char *reason);
json_t *sim_station_json(struct sim_station *st);
int sim_station_fault(struct sim_station *st, json_t *f, char *err, size_t errlen);
void sim_station_clear_faults(struct sim_station *st);
void sim_latency_add(struct sim *s, const char *action, double ms, int error);
json_t *sim_report(struct sim *s);

/* guard.c */
int sim_station_id_valid(const char *id);  /* 1..48 of A-Z a-z 0-9 - _ . : */
int sim_csms_url_allowed(const struct sim_policy *p, const char *url);
int sim_ca_file_allowed(const struct sim_policy *p, const char *path);
/* Parse the allow lists (borrowed strings, may be NULL); -1 with why on a bad entry. */
int sim_policy_init(struct sim_policy *p, const char *csms_urls, const char *ca_files, char *why, size_t whylen);
void sim_policy_free(struct sim_policy *p);
/* Mask credential values (1.6 AuthorizationKey / BasicAuthPassword keys, 2.0.1
 * BasicAuthPassword variables and basicAuthPassword members) in place, anywhere in v. */
void sim_redact(json_t *v);

/* The closed loop's message: Heartbeat (default), MeterValues, Authorize. */
enum sim_loop { SIM_LOOP_HEARTBEAT, SIM_LOOP_METER, SIM_LOOP_AUTHORIZE };
extern const char *const sim_loop_actions[];

#endif
