/*
 * load.c — the load balancer.  Every site with a limit is kept in memory with the
 * sessions charging at its stations; any change that can move a share (a session
 * starts or ends, a connector status, meter values, a station dropping or coming back,
 * the site's settings, a schedule boundary) marks the site, and the site is decided
 * once per loop turn (events of one burst coalesce).
 *
 * Safety comes first, in three rules:
 *  - what a session is counted at is what its station may draw right now: its last
 *    accepted limit, the higher of that and a limit sent but not answered, and
 *    station_max_current when nothing was accepted, the station refused, or it went
 *    offline while charging;
 *  - lowering is sent at once; raising waits until every lowering of the site was
 *    answered and until the station's min_interval_s passed since its last profile,
 *    and is sent only while the counted total stays within the limit;
 *  - a balanced site's stations get a TxDefaultProfile of 0 A, so a new session starts
 *    paused and draws only once its share was sent.
 * State lives behind the site table here (sites, sessions); a shared engine would hold
 * the same records.
 */
#include "load.h"
#include "load_alloc.h"
#include "bus.h"
#include "command.h"
#include "core.h"
#include "db.h"
#include "hashmap.h"
#include "metrics.h"
#include "pricing.h" /* time zones */
#include "registry.h"
#include "tokens.h"

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROFILE_TX(evse) (PL_LOAD_PROFILE_ID_BASE + 1000 + (evse))
#define PROFILE_DEFAULT (PL_LOAD_PROFILE_ID_BASE + 999)
#define PROFILE_LIMIT(evse) (PL_LOAD_PROFILE_ID_BASE + (evse))
#define EPS 0.05 /* A: smaller differences are not worth a profile */
#define EV_HEADROOM 1.0 /* A above what an EV draws that its cap leaves */
#define SCHEDULE_CHECK_S 15
#define RETRY_LOAD_S 5

struct session {
    char station[64];
    char tx[96];        /* the station's transaction id */
    long long tx_id;    /* the core's */
    int evse;
    int v201;
    double applied;     /* A the station accepted; < 0: unknown (counted at its maximum) */
    double pending;     /* A sent, not answered; < 0: none */
    double target;      /* A decided */
    double measured;    /* A seen drawn (< 0: no sample yet) */
    double measured_w;
    double ev_cap;      /* A: its EV draws less than its share (0: no cap) */
    uint64_t changed_ms, measured_ms, sent_ms;
    int refused;        /* the station refused or failed a profile: counted at max */
    int offline;
    int suspended_ev;
    unsigned long seq;  /* start order */
    int priority;       /* its customer's charging priority: lower ones wait first */
    struct site *site;  /* the site whose list holds it */
    struct session *next;
};

struct site {
    long long id;
    long long parent;   /* 0: a site of its own; else the site this group is inside */
    char key[24];
    char name[128];
    int balanced;       /* has a limit */
    double limit_value;
    char unit[2];
    int phases;
    double voltage, margin, min_current, station_max;
    json_t *schedule;
    const struct pl_tz *tz;
    long min_interval_s, settle_s;
    double limit_a;     /* now: schedule applied, before the margin */
    struct session *sessions;
    int dirty, violation;
    struct event *raise_timer;
    uint64_t profiles_sent;
    char rebalanced_at[40];
};

struct station_ref {
    char id[64];
    long long site;
    int default_ok;     /* its TxDefaultProfile of 0 A was accepted */
};

static struct hashmap *sites;     /* key -> struct site */
static struct hashmap *stations;  /* station id -> struct station_ref */
/* Stations with stored limits (station_limits), so that a connecting station is asked
 * for them only when it has some: one read per connection would fill the query queue
 * when 10,000 stations reconnect at once, and refuse the writes behind it.  NULL until
 * read: then every connecting station is looked up. */
static struct hashmap *limited;
static pl_subscription *subs[7];
/* Sites with a limit.  Meter values matter only to a balanced site's sessions, and
 * they are the busiest topic there is: the subscription exists only while some site
 * is balanced, so a gateway without load management does not build an event for every
 * sample it stores. */
static size_t nbalanced;
static struct event *decide_ev, *schedule_timer, *retry_timer;
static long stack_level = 90, command_timeout_ms = 30000;
static unsigned long next_seq;
static int loaded, loading;

static struct site *site_get(long long id)
{
    char k[24];
    snprintf(k, sizeof k, "%lld", id);
    return sites ? hashmap_get(sites, k) : NULL;
}

static struct station_ref *ref_of(const char *station)
{
    return station && stations ? hashmap_get(stations, station) : NULL;
}

/* The station's record, made when it has none (NULL: out of memory). */
static struct station_ref *ref_make(const char *station)
{
    struct station_ref *r = ref_of(station);
    if (r || !stations || !(r = calloc(1, sizeof *r)))
        return r;
    snprintf(r->id, sizeof r->id, "%s", station);
    if (hashmap_put(stations, r->id, r) != PL_OK) {
        free(r);
        return NULL;
    }
    return r;
}

static struct site *site_of(const char *station)
{
    struct station_ref *r = ref_of(station);
    return r ? site_get(r->site) : NULL;
}

static double amps_of(const struct site *s, double value, const char *unit)
{
    return unit && unit[0] == 'W' ? value / (s->voltage * s->phases) : value;
}

/* ------------------------------------------------------------------------
 * Profiles.
 * ---------------------------------------------------------------------- */
static json_t *schedule_json(int v201, int id, const char *unit, double limit, int phases,
                             const char *start)
{
    json_t *period = json_pack("{s:i, s:f}", "startPeriod", 0, "limit", round(limit * 10) / 10);
    if (phases > 0)
        json_object_set_new(period, "numberPhases", json_integer(phases));
    json_t *s = json_pack("{s:s, s:[o]}", "chargingRateUnit", unit, "chargingSchedulePeriod", period);
    if (start)
        json_object_set_new(s, "startSchedule", json_string(start));
    if (v201) {
        json_object_set_new(s, "id", json_integer(id));
        return json_pack("[o]", s);
    }
    return s;
}

/* A profile in the station's own version.  purpose: "TxProfile", "TxDefaultProfile",
 * "ChargePointMaxProfile" (1.6 name; 2.0.1 ChargingStationMaxProfile). */
static json_t *profile(int v201, int id, const char *purpose, const char *tx, const char *unit,
                       double limit, int phases, const char *until)
{
    char now[40];
    int absolute = strcmp(purpose, "TxProfile") != 0;
    if (v201 && strcmp(purpose, "ChargePointMaxProfile") == 0)
        purpose = "ChargingStationMaxProfile";
    json_t *p = json_pack("{s:i, s:I, s:s, s:s}", v201 ? "id" : "chargingProfileId", id,
                          "stackLevel", (json_int_t)stack_level, "chargingProfilePurpose", purpose,
                          "chargingProfileKind", absolute ? "Absolute" : "Relative");
    if (tx) {
        if (v201)
            json_object_set_new(p, "transactionId", json_string(tx));
        else
            json_object_set_new(p, "transactionId", json_integer(strtoll(tx, NULL, 10)));
    }
    if (until)
        json_object_set_new(p, "validTo", json_string(until));
    json_object_set_new(p, "chargingSchedule",
                        schedule_json(v201, id, unit, limit, phases,
                                      absolute ? core_now_rfc3339(now, sizeof now) : NULL));
    return p;
}

static int station_v201(const char *station)
{
    pl_station *st = station_api_find(station);
    const char *proto = st ? station_api_protocol(st) : NULL;
    return proto && strstr(proto, "2.0") != NULL;
}

/* ------------------------------------------------------------------------
 * Deciding.
 * ---------------------------------------------------------------------- */
/* A site's parent, and the balancing domain of a site: its topmost balanced ancestor
 * (itself included).  A group inside a site is a child site: its limit caps its own
 * sessions inside the domain's sharing, and the domain's limit caps them all. */
#define TREE_DEPTH_MAX 16

static struct site *parent_of(const struct site *s)
{
    return s && s->parent > 0 ? site_get(s->parent) : NULL;
}

static struct site *domain_of(struct site *s)
{
    struct site *top = s && s->balanced ? s : NULL;
    int depth = 0;
    for (struct site *p = parent_of(s); p && depth < TREE_DEPTH_MAX; p = parent_of(p), depth++)
        if (p->balanced)
            top = p;
    return top;
}

static int inside(const struct site *s, const struct site *ancestor)
{
    for (int depth = 0; s && depth <= TREE_DEPTH_MAX; s = parent_of(s), depth++)
        if (s == ancestor)
            return 1;
    return 0;
}

int load_site_cycle(long long id, long long parent)
{
    int depth = 0;
    for (struct site *p = site_get(parent); p; p = parent_of(p))
        if (p->id == id || ++depth >= TREE_DEPTH_MAX)
            return 1;
    return 0;
}

static void mark(struct site *s)
{
    struct site *d = domain_of(s);
    if (!d)
        return;
    d->dirty = 1;
    if (decide_ev)
        event_active(decide_ev, EV_TIMEOUT, 0);
}

static int unmanaged(const struct session *x)
{
    return x->offline || x->refused;
}

/* What a session may draw now, as far as the gateway knows. */
static double counted(const struct session *x)
{
    double max = x->site->station_max;
    if (unmanaged(x))
        return max;
    double a = x->applied >= 0 ? x->applied : max;
    if (x->pending >= 0 && x->pending > a)
        a = x->pending;
    return a;
}

static double available(const struct site *s)
{
    return s->limit_a * (1.0 - s->margin / 100.0);
}

struct sent {
    long long site;
    char station[64];
    char tx[96];
    int evse;
    double value;
};

static void on_tx_profile(pl_command *cmd, void *arg)
{
    struct sent *c = arg;
    struct site *s = site_get(c->site);
    int status = station_api_command_status(cmd);
    struct session *x = NULL;
    for (x = s ? s->sessions : NULL; x; x = x->next)
        if (strcmp(x->station, c->station) == 0 && strcmp(x->tx, c->tx) == 0)
            break;
    if (x && x->pending == c->value) {
        x->pending = -1;
        if (status == PL_CMD_ACCEPTED) {
            x->applied = c->value;
            x->changed_ms = core_now_ms();
            x->refused = 0;
        } else if (!x->offline) {
            const char *e = station_api_command_error(cmd);
            x->refused = 1;
            core_log(PL_LOG_WARN, "load",
                     "site %lld: station %s evse %d did not take its %.1f A profile (%s%s%s): "
                     "counted at its maximum, %.1f A",
                     s->id, c->station, c->evse, c->value,
                     status == PL_CMD_REJECTED ? "rejected" : status == PL_CMD_TIMEOUT ? "timeout" : "failed",
                     e ? ": " : "", e ? e : "", s->station_max);
            metrics_add("pipelet_load_profiles_refused_total", 1);
        }
        mark(s);
    }
    free(c);
}

static int send_tx(struct site *domain, struct session *x, double amps)
{
    struct sent *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->site = x->site->id;
    snprintf(c->station, sizeof c->station, "%s", x->station);
    snprintf(c->tx, sizeof c->tx, "%s", x->tx);
    c->evse = x->evse;
    c->value = amps;
    json_t *args = json_pack("{s:i, s:o}", "evse", x->evse, "profile",
                             profile(x->v201, PROFILE_TX(x->evse), "TxProfile", x->tx, "A", amps,
                                     x->site->phases, NULL));
    int rc = 0;
    char err[160] = "";
    x->pending = amps; /* before the call: an answer may come at once */
    x->sent_ms = core_now_ms();
    pl_command *cmd = station_api_command(NULL, x->station, PL_OP_SET_CHARGING_PROFILE, args,
                                          (unsigned)command_timeout_ms, on_tx_profile, c, &rc, err,
                                          sizeof err);
    if (!cmd && rc != PL_OK) {
        x->pending = -1;
        if (rc == PL_EOFFLINE || rc == PL_ENOENT)
            x->offline = 1;
        else
            x->refused = 1;
        free(c);
        return -1;
    }
    domain->profiles_sent++;
    if (x->site != domain)
        x->site->profiles_sent++;
    metrics_add("pipelet_load_profiles_sent_total", 1);
    return 0;
}

static void raise_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct site *s = arg;
    mark(s);
}

static void publish(struct site *s, struct session **m, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:i, s:s, s:I, s:I, s:f}", "station_id", m[i]->station,
                                              "evse", m[i]->evse, "transaction_id", m[i]->tx, "id",
                                              (json_int_t)m[i]->tx_id, "site_id", (json_int_t)m[i]->site->id,
                                              "allocated_a", m[i]->target));
    bus_emit("load.rebalanced", NULL,
             json_pack("{s:I, s:f, s:o}", "site_id", (json_int_t)s->id, "limit_a", available(s),
                       "sessions", list));
}

/* Everything a decision of a domain works on, gathered from the sites under it. */
struct domain {
    struct site *root;
    struct session **all; /* every session, managed or not */
    size_t nall, cap_all;
    struct site **groups; /* balanced sites under the root */
    size_t ngroups, cap_groups;
};

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static void gather(void *val, void *arg)
{
    struct site *t = val;
    struct domain *d = arg;
    if (domain_of(t) != d->root)
        return;
    if (t != d->root && t->balanced && grow((void **)&d->groups, &d->cap_groups, d->ngroups + 1, sizeof *d->groups) == 0)
        d->groups[d->ngroups++] = t;
    for (struct session *x = t->sessions; x; x = x->next)
        if (grow((void **)&d->all, &d->cap_all, d->nall + 1, sizeof *d->all) == 0)
            d->all[d->nall++] = x;
}

/* The order sessions are served in: higher priority first, then oldest first (the
 * allocator pauses from the end). */
static int by_start(const void *a, const void *b)
{
    const struct session *x = *(struct session *const *)a, *y = *(struct session *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The cap of a session before sharing: its station's maximum, less when its EV draws
 * less (once settled) or is suspended; never below the minimum. */
static double demand_cap(struct session *x)
{
    const struct site *s = x->site;
    double cap = s->station_max;
    if (x->suspended_ev)
        cap = s->min_current; /* keeps it able to resume; frees the rest */
    if (x->measured >= 0 && x->applied > 0 && x->measured_ms > x->changed_ms + (uint64_t)s->settle_s * 1000) {
        if (x->ev_cap > 0 && x->measured >= x->ev_cap - 0.5)
            x->ev_cap = 0; /* drawing at its cap: it may want more */
        else if (x->ev_cap == 0 && x->measured < x->applied - EV_HEADROOM)
            x->ev_cap = x->measured + EV_HEADROOM;
    }
    if (x->ev_cap > 0 && x->ev_cap < cap)
        cap = x->ev_cap;
    if (cap < s->min_current)
        cap = s->min_current;
    return cap;
}

/* Share the domain, then hold every group to its own limit: a group over it is shared
 * on its own and its sessions capped at those shares; the domain is shared again with
 * the caps until no group is over (caps only shrink: a few rounds). */
static void allocate(struct site *root, struct session **m, size_t n, struct load_demand *dm, struct site **groups,
                     size_t ngroups, double fixed_root, const double *fixed_group)
{
    struct load_demand *sub = calloc(n ? n : 1, sizeof *sub);
    size_t *ix = calloc(n ? n : 1, sizeof *ix);
    for (int round = 0; round < TREE_DEPTH_MAX; round++) {
        load_allocate(dm, n, available(root) - fixed_root, root->min_current);
        int again = 0;
        for (size_t g = 0; g < ngroups && sub && ix; g++) {
            size_t k = 0;
            double sum = 0;
            for (size_t i = 0; i < n; i++)
                if (inside(m[i]->site, groups[g])) {
                    ix[k] = i;
                    sub[k++] = (struct load_demand){dm[i].cap, 0};
                    sum += dm[i].out;
                }
            double avail = available(groups[g]) - fixed_group[g];
            if (k == 0 || sum <= avail + 1e-6)
                continue;
            load_allocate(sub, k, avail, groups[g]->min_current);
            for (size_t j = 0; j < k; j++)
                if (sub[j].out < dm[ix[j]].cap) {
                    dm[ix[j]].cap = sub[j].out;
                    again = 1;
                }
        }
        if (!again)
            break;
    }
    free(sub);
    free(ix);
}

static void decide(struct site *root)
{
    root->dirty = 0;
    if (!root->balanced)
        return;
    struct domain d = {.root = root};
    hashmap_foreach(sites, gather, &d);
    if (d.nall > 1)
        qsort(d.all, d.nall, sizeof *d.all, by_start);
    double fixed = 0;
    double *fixed_group = calloc(d.ngroups ? d.ngroups : 1, sizeof *fixed_group);
    struct load_demand *dm = calloc(d.nall ? d.nall : 1, sizeof *dm);
    struct session **m = calloc(d.nall ? d.nall : 1, sizeof *m);
    if (!fixed_group || !dm || !m)
        goto out;
    size_t n = 0, i;
    for (i = 0; i < d.nall; i++) {
        struct session *x = d.all[i];
        if (unmanaged(x)) {
            fixed += x->site->station_max;
            for (size_t g = 0; g < d.ngroups; g++)
                if (inside(x->site, d.groups[g]))
                    fixed_group[g] += x->site->station_max;
            continue;
        }
        m[n] = x;
        dm[n++].cap = demand_cap(x);
    }
    allocate(root, m, n, dm, d.groups, d.ngroups, fixed, fixed_group);
    int changed = 0, lowering = 0;
    uint64_t now = core_now_ms();
    for (i = 0; i < n; i++) {
        changed = changed || fabs(m[i]->target - dm[i].out) > EPS;
        m[i]->target = dm[i].out;
    }
    /* 1. lowering, at once */
    for (i = 0; i < n; i++) {
        struct session *x = m[i];
        double now_a = x->applied >= 0 ? x->applied : x->site->station_max;
        if (x->pending >= 0) {
            if (x->pending > x->target + EPS || x->pending < now_a - EPS)
                lowering = 1; /* its answer comes first; the new value then */
            continue;
        }
        if (x->target < now_a - EPS && send_tx(root, x, x->target) == 0)
            lowering = 1;
    }
    /* 2. raising, once nothing is on its way down, within every limit it is under */
    if (!lowering) {
        double total = 0;
        double *group_total = calloc(d.ngroups ? d.ngroups : 1, sizeof *group_total);
        for (i = 0; i < d.nall; i++) {
            total += counted(d.all[i]);
            for (size_t g = 0; group_total && g < d.ngroups; g++)
                if (inside(d.all[i]->site, d.groups[g]))
                    group_total[g] += counted(d.all[i]);
        }
        uint64_t wait = 0;
        for (i = 0; i < n && group_total; i++) {
            struct session *x = m[i];
            if (x->pending >= 0 || x->applied < 0 || x->target <= x->applied + EPS)
                continue;
            uint64_t due = x->sent_ms + (uint64_t)x->site->min_interval_s * 1000;
            if (x->sent_ms && due > now) {
                if (!wait || due - now < wait)
                    wait = due - now;
                continue;
            }
            double more = x->target - x->applied;
            int fits = total + more <= available(root) + 1e-6;
            for (size_t g = 0; fits && g < d.ngroups; g++)
                if (inside(x->site, d.groups[g]))
                    fits = group_total[g] + more <= available(d.groups[g]) + 1e-6;
            if (!fits || send_tx(root, x, x->target) != 0)
                continue;
            total += more;
            for (size_t g = 0; g < d.ngroups; g++)
                if (inside(x->site, d.groups[g]))
                    group_total[g] += more;
        }
        free(group_total);
        if (wait && root->raise_timer) {
            struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};
            event_add(root->raise_timer, &tv);
        }
    }
    if (changed) {
        core_now_rfc3339(root->rebalanced_at, sizeof root->rebalanced_at);
        for (size_t g = 0; g < d.ngroups; g++)
            memcpy(d.groups[g]->rebalanced_at, root->rebalanced_at, sizeof root->rebalanced_at);
        char line[512];
        size_t len = 0;
        line[0] = 0;
        for (i = 0; i < n && len < sizeof line - 80; i++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s/%d %.1f A", i ? ", " : "",
                                    m[i]->station, m[i]->evse, m[i]->target);
        core_log(PL_LOG_INFO, "load", "site %lld: %.1f A for %zu session%s (%.1f A counted at maximum): %s",
                 root->id, available(root), n, n == 1 ? "" : "s", fixed, n ? line : "none");
        metrics_add("pipelet_load_rebalances_total", 1);
        publish(root, m, n);
    }
out:
    free(fixed_group);
    free(dm);
    free(m);
    free(d.all);
    free(d.groups);
}

static void decide_marked(void *val, void *arg)
{
    (void)arg;
    struct site *s = val;
    if (s->dirty)
        decide(s);
}

static void on_decide(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (sites)
        hashmap_foreach(sites, decide_marked, NULL);
}

/* ------------------------------------------------------------------------
 * Schedules: [{"from":"HH:MM","to":"HH:MM","limit":N,"days":[1..7]?}] in the site's
 * zone; the lowest matching limit applies (a window may cross midnight).
 * ---------------------------------------------------------------------- */
static int hhmm(const char *s)
{
    int h, m;
    if (!s || sscanf(s, "%2d:%2d", &h, &m) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m))
        return -1;
    return h * 60 + m;
}

static double limit_now(const struct site *s, time_t t)
{
    double lim = amps_of(s, s->limit_value, s->unit);
    long off = s->tz ? pl_tz_offset(s->tz, t) : 0;
    time_t local = t + off;
    struct tm tm;
    gmtime_r(&local, &tm);
    int minute = tm.tm_hour * 60 + tm.tm_min;
    int dow = tm.tm_wday == 0 ? 7 : tm.tm_wday, yesterday = dow == 1 ? 7 : dow - 1;
    size_t i;
    json_t *w;
    json_array_foreach(s->schedule, i, w) {
        int from = hhmm(json_string_value(json_object_get(w, "from")));
        int to = hhmm(json_string_value(json_object_get(w, "to")));
        json_t *days = json_object_get(w, "days");
        if (from < 0 || to < 0)
            continue;
        int in, day = dow;
        if (from < to)
            in = minute >= from && minute < to;
        else if (minute >= from)
            in = 1;
        else {
            in = minute < to;
            day = yesterday; /* the window started the day before */
        }
        if (in && json_is_array(days) && json_array_size(days)) {
            int found = 0;
            size_t j;
            json_t *dv;
            json_array_foreach(days, j, dv) found |= json_integer_value(dv) == day;
            in = found;
        }
        double v = amps_of(s, json_number_value(json_object_get(w, "limit")), s->unit);
        if (in && v < lim)
            lim = v;
    }
    return lim;
}

static void check_schedule(void *val, void *arg)
{
    struct site *s = val;
    time_t t = *(time_t *)arg;
    if (!s->balanced)
        return;
    double lim = limit_now(s, t);
    if (fabs(lim - s->limit_a) > 1e-9) {
        core_log(PL_LOG_INFO, "load", "site %lld: limit now %.1f A (was %.1f A)", s->id, lim, s->limit_a);
        s->limit_a = lim;
        mark(s);
    }
}

static void on_schedule(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    time_t t = time(NULL);
    if (sites)
        hashmap_foreach(sites, check_schedule, &t);
}

/* ------------------------------------------------------------------------
 * Sites and stations in memory.
 * ---------------------------------------------------------------------- */
static void session_free_all(struct site *s)
{
    while (s->sessions) {
        struct session *x = s->sessions;
        s->sessions = x->next;
        free(x);
    }
}

static void site_free(struct site *s)
{
    session_free_all(s);
    json_decref(s->schedule);
    if (s->raise_timer)
        event_free(s->raise_timer);
    free(s);
}

static double num(json_t *row, const char *k, double def)
{
    json_t *v = json_object_get(row, k);
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v))
        return strtod(json_string_value(v), NULL); /* numeric columns come as text */
    return def;
}

static void send_default(const char *station, struct site *s);
static void defaults_sync(void *val, void *arg);
static void release_unbalanced(void *val, void *arg);

static void on_meter(const char *topic, json_t *env, void *arg);

static void balanced_count(int was, int now)
{
    if (was == now)
        return;
    nbalanced = now ? nbalanced + 1 : nbalanced - 1;
    if (nbalanced && !subs[2])
        subs[2] = bus_bus_subscribe(NULL, "meter.values", on_meter, NULL);
    else if (!nbalanced && subs[2]) {
        bus_bus_unsubscribe(subs[2]);
        subs[2] = NULL;
    }
}

void load_site_changed(json_t *row)
{
    long long id = (long long)num(row, "id", 0);
    if (id <= 0 || !sites)
        return;
    struct site *s = site_get(id);
    int was_balanced = s && s->balanced;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return;
        s->id = id;
        snprintf(s->key, sizeof s->key, "%lld", id);
        s->raise_timer = evtimer_new(core_base, raise_later, s);
        if (hashmap_put(sites, s->key, s) != PL_OK) {
            site_free(s);
            return;
        }
    }
    mark(s); /* the domain it leaves, when its parent or limit changes */
    snprintf(s->name, sizeof s->name, "%s", json_string_value(json_object_get(row, "name")) ?: "");
    long long parent = (long long)num(row, "parent_id", 0);
    int parent_changed = parent != s->parent;
    s->parent = parent;
    json_t *lv = json_object_get(row, "limit_value");
    s->balanced = lv && !json_is_null(lv);
    balanced_count(was_balanced, s->balanced);
    s->limit_value = num(row, "limit_value", 0);
    snprintf(s->unit, sizeof s->unit, "%s", json_string_value(json_object_get(row, "limit_unit")) ?: "A");
    s->phases = (int)num(row, "phases", 3);
    s->voltage = num(row, "voltage", 230);
    s->margin = num(row, "margin_percent", 0);
    s->min_current = num(row, "min_current", 6);
    s->station_max = num(row, "station_max_current", 32);
    s->min_interval_s = (long)num(row, "min_interval_s", 10);
    s->settle_s = (long)num(row, "settle_s", 30);
    json_decref(s->schedule);
    json_t *sch = json_object_get(row, "schedule");
    if (json_is_string(sch)) /* jsonb comes as text */
        s->schedule = json_loads(json_string_value(sch), 0, NULL);
    else
        s->schedule = json_incref(sch);
    if (!json_is_array(s->schedule)) {
        json_decref(s->schedule);
        s->schedule = json_array();
    }
    const char *tz = json_string_value(json_object_get(row, "time_zone"));
    s->tz = tz && strcmp(tz, "UTC") != 0 ? pl_tz_get(tz) : NULL;
    s->limit_a = limit_now(s, time(NULL));
    if ((s->balanced != was_balanced || parent_changed) && stations) {
        hashmap_foreach(stations, defaults_sync, NULL);
        hashmap_foreach(sites, release_unbalanced, NULL);
    }
    for (struct session *x = s->sessions; x; x = x->next)
        x->ev_cap = 0; /* settings changed: look again */
    mark(s);
}

struct default_ctx {
    char station[64];
};

static void on_default(pl_command *cmd, void *arg)
{
    struct default_ctx *c = arg;
    struct station_ref *r = ref_of(c->station);
    int ok = station_api_command_status(cmd) == PL_CMD_ACCEPTED;
    if (r)
        r->default_ok = ok;
    if (!ok)
        core_log(PL_LOG_WARN, "load",
                 "station %s did not take the 0 A TxDefaultProfile: its new sessions are counted at the "
                 "site's station maximum until their share is accepted", c->station);
    free(c);
}

static void send_default(const char *station, struct site *s)
{
    if (!domain_of(s) || !station_api_online(station))
        return;
    struct default_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return;
    snprintf(c->station, sizeof c->station, "%s", station);
    int v201 = station_v201(station);
    json_t *args = json_pack("{s:i, s:o}", "evse", 0, "profile",
                             profile(v201, PROFILE_DEFAULT, "TxDefaultProfile", NULL, "A", 0, s->phases, NULL));
    int rc = 0;
    char err[160];
    if (!station_api_command(NULL, station, PL_OP_SET_CHARGING_PROFILE, args, (unsigned)command_timeout_ms,
                             on_default, c, &rc, err, sizeof err))
        free(c);
}

static void clear_default(const char *station)
{
    if (!station_api_online(station))
        return;
    int rc = 0;
    char err[160];
    station_api_command(NULL, station, PL_OP_CLEAR_CHARGING_PROFILE, json_pack("{s:i}", "id", PROFILE_DEFAULT),
                        (unsigned)command_timeout_ms, NULL, NULL, &rc, err, sizeof err);
}

/* A station under a balanced site holds the 0 A default; any other does not. */
static void defaults_sync(void *val, void *arg)
{
    (void)arg;
    struct station_ref *r = val;
    struct site *s = site_get(r->site);
    if (domain_of(s) && !r->default_ok)
        send_default(r->id, s);
    else if (!domain_of(s) && r->default_ok) {
        clear_default(r->id);
        r->default_ok = 0;
    }
}

void load_site_deleted(long long id)
{
    struct site *s = site_get(id);
    if (!s)
        return;
    hashmap_del(sites, s->key);
    balanced_count(s->balanced, 0);
    site_free(s);
}

static struct session *session_find(struct site *s, const char *station, const char *tx, int evse)
{
    for (struct session *x = s ? s->sessions : NULL; x; x = x->next)
        if (strcmp(x->station, station) == 0 && (tx ? strcmp(x->tx, tx) == 0 : x->evse == evse))
            return x;
    return NULL;
}

static void session_add(struct site *s, const char *station, const char *tx, long long tx_id, int evse,
                        const char *charging_state, const char *id_token)
{
    if (!s || !tx || session_find(s, station, tx, 0))
        return;
    struct session *x = calloc(1, sizeof *x);
    if (!x)
        return;
    snprintf(x->station, sizeof x->station, "%s", station);
    snprintf(x->tx, sizeof x->tx, "%s", tx);
    x->tx_id = tx_id;
    x->evse = evse > 0 ? evse : 1;
    x->v201 = station_v201(station);
    struct station_ref *r = ref_of(station);
    /* with the 0 A default accepted, a new session draws nothing until told */
    x->applied = r && r->default_ok ? 0 : -1;
    x->pending = -1;
    x->measured = -1;
    x->offline = !station_api_online(station);
    x->suspended_ev = charging_state && strcmp(charging_state, "SuspendedEV") == 0;
    x->seq = ++next_seq;
    x->priority = tokens_charging_priority(id_token);
    x->site = s;
    x->changed_ms = core_now_ms();
    x->next = s->sessions;
    s->sessions = x;
    mark(s);
}

static void session_remove(struct site *s, const char *station, const char *tx)
{
    for (struct session **p = s ? &s->sessions : NULL; p && *p; p = &(*p)->next)
        if (strcmp((*p)->station, station) == 0 && strcmp((*p)->tx, tx) == 0) {
            struct session *x = *p;
            *p = x->next;
            free(x);
            mark(s);
            return;
        }
}

/* A session no longer under any balanced site is not held back: the gateway's TxProfile
 * goes (the 0 A default goes with defaults_sync). */
static void release(struct session *x)
{
    if ((x->applied >= 0 || x->pending >= 0) && station_api_online(x->station)) {
        int rc = 0;
        char err[160];
        station_api_command(NULL, x->station, PL_OP_CLEAR_CHARGING_PROFILE,
                            json_pack("{s:i}", "id", PROFILE_TX(x->evse)), (unsigned)command_timeout_ms, NULL, NULL,
                            &rc, err, sizeof err);
    }
    x->applied = x->pending = -1;
    x->target = 0;
    x->ev_cap = 0;
}

static void release_unbalanced(void *val, void *arg)
{
    (void)arg;
    struct site *t = val;
    if (domain_of(t))
        return;
    for (struct session *x = t->sessions; x; x = x->next)
        if (x->applied >= 0 || x->pending >= 0)
            release(x);
}

static void move_sessions(const char *station, struct site *from, struct site *to)
{
    for (struct session **p = from ? &from->sessions : NULL; p && *p;) {
        struct session *x = *p;
        if (strcmp(x->station, station) != 0) {
            p = &x->next;
            continue;
        }
        *p = x->next;
        if (to) {
            x->next = to->sessions;
            to->sessions = x;
            x->site = to;
            x->ev_cap = 0;
            if (!domain_of(to))
                release(x);
        } else {
            release(x);
            free(x);
        }
    }
    mark(from);
    mark(to);
}

static void load_station_sessions(const char *station);

void load_station_moved(const char *station_id, long long site_id)
{
    if (!stations)
        return;
    struct station_ref *r = ref_of(station_id);
    struct site *from = r ? site_get(r->site) : NULL;
    if (r && site_id == r->site)
        return;
    if (!site_id) {
        if (r) {
            hashmap_del(stations, r->id);
            if (r->default_ok)
                clear_default(station_id);
            move_sessions(station_id, from, NULL);
            free(r);
        }
        return;
    }
    if (!(r = ref_make(station_id)))
        return;
    r->site = site_id;
    struct site *to = site_get(site_id);
    if (from)
        move_sessions(station_id, from, to);
    else
        load_station_sessions(station_id);
    defaults_sync(r, NULL);
}

/* ------------------------------------------------------------------------
 * Events.
 * ---------------------------------------------------------------------- */
static void on_tx(const char *topic, json_t *env, void *arg)
{
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    struct site *s = site_of(station);
    if (!s)
        return;
    json_t *d = json_object_get(env, "data");
    const char *tx = json_string_value(json_object_get(d, "station_tx_id"));
    const char *state = json_string_value(json_object_get(d, "charging_state"));
    if (!tx)
        return;
    if (strcmp(topic, "transaction.started") == 0) {
        session_add(s, station, tx, json_integer_value(json_object_get(d, "id")),
                    (int)json_integer_value(json_object_get(d, "evse")), state,
                    json_string_value(json_object_get(d, "id_token")));
    } else if (strcmp(topic, "transaction.ended") == 0) {
        session_remove(s, station, tx);
    } else {
        struct session *x = session_find(s, station, tx, 0);
        if (x && state) {
            int susp = strcmp(state, "SuspendedEV") == 0;
            if (susp != x->suspended_ev) {
                x->suspended_ev = susp;
                mark(s);
            }
        }
    }
}

static void on_status(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    struct site *s = site_of(station);
    if (!s)
        return;
    json_t *d = json_object_get(env, "data");
    const char *st = json_string_value(json_object_get(d, "status"));
    int evse = (int)json_integer_value(json_object_get(d, "evse"));
    struct session *x = st ? session_find(s, station, NULL, evse) : NULL;
    if (!x)
        return;
    int susp = strcmp(st, "SuspendedEV") == 0;
    if (susp != x->suspended_ev) {
        x->suspended_ev = susp;
        mark(s);
    }
}

static void gather_subtree(void *val, void *arg);

/* Measured current of a site and the groups inside it, against its limit (no margin):
 * load.limit_violation once when it goes over, again after it went back under. */
static void check_violation(struct site *s)
{
    uint64_t now = core_now_ms();
    int depth = 0;
    for (; s && depth < TREE_DEPTH_MAX; s = parent_of(s), depth++) {
        if (!s->balanced)
            continue;
        struct domain sub = {.root = s};
        hashmap_foreach(sites, gather_subtree, &sub);
        double sum = 0;
        uint64_t fresh = (uint64_t)(s->settle_s > 60 ? s->settle_s : 60) * 2000;
        for (size_t i = 0; i < sub.nall; i++) {
            const struct session *x = sub.all[i];
            if (x->measured < 0 || now - x->measured_ms >= fresh)
                continue;
            /* a sample older than the limit the station accepted since says little: meter
             * values lag (every 30 to 900 s), and a lowered station is not over */
            double a = x->measured;
            if (x->measured_ms < x->changed_ms && x->applied >= 0 && a > x->applied)
                a = x->applied;
            sum += a;
        }
        free(sub.all);
        free(sub.groups);
        int over = sum > s->limit_a + 0.5;
        if (over && !s->violation) {
            core_log(PL_LOG_WARN, "load", "site %lld: measured %.1f A is over its limit of %.1f A", s->id, sum,
                     s->limit_a);
            metrics_add("pipelet_load_limit_violations_total", 1);
            bus_emit("load.limit_violation", NULL,
                     json_pack("{s:I, s:f, s:f}", "site_id", (json_int_t)s->id, "limit_a", s->limit_a,
                               "measured_a", sum));
        }
        s->violation = over;
    }
}

static void on_meter(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    struct site *s = site_of(station);
    if (!domain_of(s))
        return;
    json_t *d = json_object_get(env, "data");
    const char *tx = json_string_value(json_object_get(d, "station_tx_id"));
    int evse = (int)json_integer_value(json_object_get(d, "evse"));
    struct session *x = session_find(s, station, tx, evse);
    if (!x && tx)
        x = session_find(s, station, NULL, evse);
    if (!x)
        return;
    double watts = -1, amps = -1;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(d, "samples"), i, v) {
        const char *m = json_string_value(json_object_get(v, "measurand"));
        const char *unit = json_string_value(json_object_get(v, "unit"));
        double val = json_number_value(json_object_get(v, "value"));
        if (!m)
            continue;
        if (strcmp(m, "Power.Active.Import") == 0)
            watts = unit && strcmp(unit, "kW") == 0 ? val * 1000 : val;
        else if (strcmp(m, "Current.Import") == 0 && val > amps)
            amps = val; /* per phase: the highest */
    }
    if (amps < 0 && watts >= 0)
        amps = watts / (s->voltage * s->phases);
    if (amps < 0)
        return;
    x->measured = amps;
    x->measured_w = watts >= 0 ? watts : amps * s->voltage * s->phases;
    x->measured_ms = core_now_ms();
    check_violation(s);
    /* only a change of the EV cap moves a share */
    double before = x->ev_cap;
    if (x->applied > 0 && x->measured_ms > x->changed_ms + (uint64_t)s->settle_s * 1000 &&
        ((before == 0 && amps < x->applied - EV_HEADROOM) || (before > 0 && amps >= before - 0.5)))
        mark(s);
}

static void resend_for(struct site *s, const char *station, int online)
{
    for (struct session *x = s->sessions; x; x = x->next)
        if (strcmp(x->station, station) == 0) {
            x->offline = !online;
            x->pending = -1;
            x->refused = 0;
            x->applied = -1; /* what it holds after a reconnect is not known */
            x->ev_cap = 0;
        }
    mark(s);
}

static void on_connection(const char *topic, json_t *env, void *arg)
{
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    struct station_ref *r = ref_of(station);
    struct site *s = r ? site_get(r->site) : NULL;
    if (!s)
        return;
    int online = strcmp(topic, "station.connected") == 0;
    r->default_ok = 0;
    if (online)
        send_default(station, s);
    for (struct session *x = s->sessions; x; x = x->next)
        if (strcmp(x->station, station) == 0)
            x->v201 = station_v201(station);
    resend_for(s, station, online);
}

/* A station that boots (again) is sent its default once more: some refuse calls before
 * their BootNotification was accepted. */
static void on_boot(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    const char *status = json_string_value(json_object_get(json_object_get(env, "data"), "boot_status"));
    struct station_ref *r = ref_of(station);
    if (r && !r->default_ok && (!status || strcmp(status, "Accepted") == 0))
        send_default(station, site_get(r->site));
}

/* ------------------------------------------------------------------------
 * Loading from the database: sites, which station is where, sessions running.
 * ---------------------------------------------------------------------- */
#define SITE_COLS                                                                                  \
    "id, name, parent_id, limit_value, limit_unit, phases, voltage, margin_percent, min_current, " \
    "station_max_current, schedule, time_zone, min_interval_s, settle_s"

static void on_sessions(pl_db_result *res, void *arg)
{
    const char *only = arg;
    if (res && db_ok(res)) {
        json_t *rows = db_json(res);
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            const char *station = json_string_value(json_object_get(r, "station_id"));
            if (only && (!station || strcmp(station, only) != 0))
                continue;
            session_add(site_of(station), station, json_string_value(json_object_get(r, "station_tx_id")),
                        (long long)num(r, "id", 0), (int)num(r, "evse", 1),
                        json_string_value(json_object_get(r, "charging_state")),
                        json_string_value(json_object_get(r, "id_token")));
        }
        json_decref(rows);
    }
    free(arg);
}

static void load_station_sessions(const char *station)
{
    char *copy = strdup(station);
    const char *p[1] = {station};
    if (!copy ||
        db_query_as("core", "SELECT id, station_id, station_tx_id, evse, charging_state, id_token FROM transactions "
                            "WHERE station_id = $1 AND stopped_at IS NULL",
                    1, p, on_sessions, copy) != PL_OK)
        free(copy);
}

static void on_loaded_stations(pl_db_result *res, void *arg)
{
    (void)arg;
    loading = 0;
    if (!res || !db_ok(res)) {
        core_log(PL_LOG_WARN, "load", "sites not read (%s): retrying", res ? db_error(res) : "no database");
        if (retry_timer) {
            struct timeval tv = {RETRY_LOAD_S, 0};
            evtimer_add(retry_timer, &tv);
        }
        return;
    }
    int n = db_ntuples(res);
    for (int i = 0; i < n; i++) {
        const char *id = db_value(res, i, 0);
        struct station_ref *r = ref_make(id);
        if (r)
            r->site = strtoll(db_value(res, i, 1), NULL, 10);
    }
    loaded = 1;
    db_query_as("core",
                "SELECT t.id, t.station_id, t.station_tx_id, t.evse, t.charging_state, t.id_token FROM transactions t "
                "JOIN stations s ON s.id = t.station_id WHERE s.site_id IS NOT NULL AND t.stopped_at IS NULL",
                0, NULL, on_sessions, NULL);
    /* stations already connected (the daemon restarted, or the database came back) */
    hashmap_foreach(stations, defaults_sync, NULL);
}

static void on_loaded_sites(pl_db_result *res, void *arg)
{
    (void)arg;
    if (!res || !db_ok(res)) {
        on_loaded_stations(res, NULL);
        return;
    }
    json_t *rows = db_json(res);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) load_site_changed(r);
    json_decref(rows);
    if (db_query_as("core", "SELECT id, site_id FROM stations WHERE site_id IS NOT NULL", 0, NULL,
                    on_loaded_stations, NULL) != PL_OK)
        on_loaded_stations(NULL, NULL);
}

static void free_ref(void *val, void *arg);

/* The set's values are its keys (hashmap keys are borrowed). */
static int limited_put(struct hashmap *set, const char *station)
{
    char *k = strdup(station);
    if (!k || hashmap_put(set, k, k) != PL_OK) {
        free(k);
        return -1;
    }
    return 0;
}

static void limited_free(struct hashmap *set)
{
    if (!set)
        return;
    hashmap_foreach(set, free_ref, NULL);
    hashmap_free(set);
}

static void on_loaded_limited(pl_db_result *res, void *arg)
{
    (void)arg;
    struct hashmap *set = res && db_ok(res) ? hashmap_new() : NULL;
    int n = set ? db_ntuples(res) : 0;
    for (int i = 0; i < n; i++)
        if (limited_put(set, db_value(res, i, 0)) < 0) {
            limited_free(set); /* unknown: every connection is looked up */
            return;
        }
    if (set) {
        limited_free(limited);
        limited = set;
    }
}

/* A limit stored for station: it is asked for its limits when it connects. */
static void limited_add(const char *station)
{
    if (limited && !hashmap_get(limited, station) && limited_put(limited, station) < 0) {
        limited_free(limited); /* cannot keep track: back to a lookup per connection */
        limited = NULL;
    }
}

static void load_all(void)
{
    if (loading)
        return;
    loading = 1;
    if (!limited)
        db_query_as("core", "SELECT DISTINCT station_id FROM station_limits", 0, NULL, on_loaded_limited, NULL);
    if (db_query_as("core", "SELECT " SITE_COLS " FROM sites", 0, NULL, on_loaded_sites, NULL) != PL_OK)
        on_loaded_stations(NULL, NULL);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    load_all();
}

/* ------------------------------------------------------------------------
 * Station limits (the operator's, not the balancer's).
 * ---------------------------------------------------------------------- */
struct limit_ctx {
    load_limit_cb done;
    void *arg;
    char id[40];
};

static void on_limit(pl_command *cmd, void *arg)
{
    struct limit_ctx *c = arg;
    int st = station_api_command_status(cmd);
    const char *status = st == PL_CMD_ACCEPTED ? "accepted" : st == PL_CMD_REJECTED ? "rejected" : "failed";
    if (c->done)
        c->done(c->arg, status, station_api_command_id(cmd), station_api_command_error(cmd));
    free(c);
}

void load_limit_send(const char *station_id, int evse, double limit, const char *unit, const char *until,
                     load_limit_cb done, void *arg)
{
    limited_add(station_id); /* stored before it is sent: sent again at every connection */
    if (!station_api_online(station_id)) {
        if (done)
            done(arg, "offline", NULL, NULL);
        return;
    }
    struct limit_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        if (done)
            done(arg, "failed", NULL, "out of memory");
        return;
    }
    c->done = done;
    c->arg = arg;
    int v201 = station_v201(station_id);
    json_t *args = json_pack("{s:i, s:o}", "evse", evse, "profile",
                             profile(v201, PROFILE_LIMIT(evse), evse ? "TxDefaultProfile" : "ChargePointMaxProfile",
                                     NULL, unit, limit, unit[0] == 'A' ? 3 : 0, until));
    int rc = 0;
    char err[160] = "";
    if (!station_api_command(NULL, station_id, PL_OP_SET_CHARGING_PROFILE, args, (unsigned)command_timeout_ms,
                             on_limit, c, &rc, err, sizeof err)) {
        free(c);
        if (done)
            done(arg, rc == PL_EOFFLINE || rc == PL_ENOENT ? "offline" : "failed", NULL, err);
    }
}

void load_limit_clear(const char *station_id, int evse)
{
    if (!station_api_online(station_id) || evse < 0)
        return;
    int rc = 0;
    char err[160];
    station_api_command(NULL, station_id, PL_OP_CLEAR_CHARGING_PROFILE, json_pack("{s:i}", "id", PROFILE_LIMIT(evse)),
                        (unsigned)command_timeout_ms, NULL, NULL, &rc, err, sizeof err);
}

long load_stack_level(void)
{
    return stack_level;
}

/* Stored limits go out again when their station connects. */
static void on_stored_limits(pl_db_result *res, void *arg)
{
    (void)arg;
    if (!res || !db_ok(res))
        return;
    int n = db_ntuples(res);
    for (int i = 0; i < n; i++)
        load_limit_send(db_value(res, i, 0), atoi(db_value(res, i, 1)), strtod(db_value(res, i, 2), NULL),
                        db_value(res, i, 3), db_value(res, i, 4), NULL, NULL);
}

static void on_connected_limits(const char *topic, json_t *env, void *arg)
{
    (void)topic;
    (void)arg;
    const char *station = json_string_value(json_object_get(env, "station"));
    const char *p[1] = {station};
    /* (a station whose limits were all cleared stays in the set: one read too many) */
    if (station && (!limited || hashmap_get(limited, station)))
        db_query_as("core",
                    "SELECT station_id, evse, limit_value, limit_unit, "
                    "to_char(until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM station_limits "
                    "WHERE station_id = $1 AND (until IS NULL OR until > now()) ORDER BY evse",
                    1, p, on_stored_limits, NULL);
}

/* ------------------------------------------------------------------------
 * The live picture.
 * ---------------------------------------------------------------------- */
static void gather_subtree(void *val, void *arg)
{
    struct site *t = val;
    struct domain *d = arg;
    if (!inside(t, d->root))
        return;
    for (struct session *x = t->sessions; x; x = x->next)
        if (grow((void **)&d->all, &d->cap_all, d->nall + 1, sizeof *d->all) == 0)
            d->all[d->nall++] = x;
}

json_t *load_site_live(long long id)
{
    struct site *s = site_get(id);
    if (!s)
        return NULL;
    /* its own sessions and those of the groups inside it */
    struct domain sub = {.root = s};
    hashmap_foreach(sites, gather_subtree, &sub);
    if (sub.nall > 1)
        qsort(sub.all, sub.nall, sizeof *sub.all, by_start);
    int balanced = domain_of(s) != NULL;
    json_t *list = json_array();
    double allocated = 0, committed = 0, measured = 0, measured_w = 0;
    for (size_t i = 0; i < sub.nall; i++) {
        struct session *x = sub.all[i];
        const char *state = x->offline ? "offline" : x->refused ? "unresponsive"
                          : x->target <= 0 && balanced ? "paused" : x->suspended_ev ? "suspended_ev" : "charging";
        json_t *o = json_pack("{s:s, s:i, s:s, s:I, s:s, s:s}", "station_id", x->station, "evse", x->evse,
                              "transaction_id", x->tx, "id", (json_int_t)x->tx_id, "protocol",
                              x->v201 ? "ocpp2.0.1" : "ocpp1.6", "state", state);
        json_object_set_new(o, "allocated_a", balanced ? json_real(x->target) : json_null());
        json_object_set_new(o, "applied_a", x->applied >= 0 ? json_real(x->applied) : json_null());
        json_object_set_new(o, "pending_a", x->pending >= 0 ? json_real(x->pending) : json_null());
        json_object_set_new(o, "counted_a", json_real(counted(x)));
        json_object_set_new(o, "measured_a", x->measured >= 0 ? json_real(round(x->measured * 100) / 100) : json_null());
        json_object_set_new(o, "measured_w", x->measured >= 0 ? json_real(round(x->measured_w)) : json_null());
        json_object_set_new(o, "cap_a", x->ev_cap > 0 ? json_real(x->ev_cap) : json_null());
        json_object_set_new(o, "site_id", json_integer(x->site->id));
        json_object_set_new(o, "priority", json_integer(x->priority));
        json_array_append_new(list, o);
        allocated += balanced ? x->target : 0;
        committed += counted(x);
        if (x->measured >= 0) {
            measured += x->measured;
            measured_w += x->measured_w;
        }
    }
    json_t *out = json_pack("{s:I, s:s, s:b, s:{s:f, s:s}, s:f, s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:o, s:I, s:b}",
                            "site_id", (json_int_t)s->id, "name", s->name, "balanced", balanced, "limit",
                            "value", s->limit_value, "unit", s->unit, "limit_a", s->limit_a, "available_a",
                            available(s), "phases", s->phases, "voltage", s->voltage, "allocated_a",
                            round(allocated * 10) / 10, "committed_a", round(committed * 10) / 10, "measured_a",
                            round(measured * 100) / 100, "measured_w", round(measured_w), "sessions", list,
                            "profiles_sent", (json_int_t)s->profiles_sent, "violation", s->violation);
    free(sub.all);
    free(sub.groups);
    json_object_set_new(out, "rebalanced_at", s->rebalanced_at[0] ? json_string(s->rebalanced_at) : json_null());
    return out;
}

/* Per-site gauges, refreshed when /metrics is rendered. */
static void site_metrics(void *val, void *arg)
{
    (void)arg;
    struct site *s = val;
    if (!s->balanced)
        return;
    double allocated = 0, committed = 0, measured = 0;
    int n = 0;
    for (struct session *x = s->sessions; x; x = x->next, n++) {
        allocated += x->target;
        committed += counted(x);
        if (x->measured >= 0)
            measured += x->measured;
    }
    char name[128];
    const struct {
        const char *metric;
        double v;
    } g[] = {{"pipelet_load_site_limit_amperes", available(s)}, {"pipelet_load_site_allocated_amperes", allocated},
             {"pipelet_load_site_committed_amperes", committed}, {"pipelet_load_site_measured_amperes", measured},
             {"pipelet_load_site_sessions", n}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        snprintf(name, sizeof name, "%s{site=\"%lld\"}", g[i].metric, s->id);
        metrics_set(name, g[i].v);
    }
}

static void collect(void *arg)
{
    (void)arg;
    if (sites)
        hashmap_foreach(sites, site_metrics, NULL);
}

/* ------------------------------------------------------------------------
 * Start and stop.
 * ---------------------------------------------------------------------- */
void load_start(void)
{
    if (sites)
        return;
    core_config_int("load", "stack_level", 90, 0, 1000, &stack_level);
    core_config_int("load", "command_timeout", 30000, 1000, 600000, &command_timeout_ms);
    sites = hashmap_new();
    stations = hashmap_new();
    decide_ev = event_new(core_base, -1, 0, on_decide, NULL);
    schedule_timer = event_new(core_base, -1, EV_PERSIST, on_schedule, NULL);
    retry_timer = evtimer_new(core_base, on_retry, NULL);
    struct timeval tv = {SCHEDULE_CHECK_S, 0};
    if (schedule_timer)
        event_add(schedule_timer, &tv);
    subs[0] = bus_bus_subscribe(NULL, "transaction.*", on_tx, NULL);
    subs[1] = bus_bus_subscribe(NULL, "station.status", on_status, NULL);
    subs[2] = NULL; /* while a site is balanced: balanced_count */
    subs[3] = bus_bus_subscribe(NULL, "station.connected", on_connection, NULL);
    subs[4] = bus_bus_subscribe(NULL, "station.disconnected", on_connection, NULL);
    subs[5] = bus_bus_subscribe(NULL, "station.connected", on_connected_limits, NULL);
    subs[6] = bus_bus_subscribe(NULL, "station.boot", on_boot, NULL);
    static int collector;
    if (!collector++)
        metrics_add_collector(collect, NULL);
    load_all();
}

static void free_site(void *val, void *arg)
{
    (void)arg;
    site_free(val);
}

static void free_ref(void *val, void *arg)
{
    (void)arg;
    free(val);
}

void load_shutdown(void)
{
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        bus_bus_unsubscribe(subs[i]);
        subs[i] = NULL;
    }
    nbalanced = 0;
    if (sites) {
        hashmap_foreach(sites, free_site, NULL);
        hashmap_free(sites);
        sites = NULL;
    }
    if (stations) {
        hashmap_foreach(stations, free_ref, NULL);
        hashmap_free(stations);
        stations = NULL;
    }
    limited_free(limited);
    limited = NULL;
    if (decide_ev)
        event_free(decide_ev);
    if (schedule_timer)
        event_free(schedule_timer);
    if (retry_timer)
        event_free(retry_timer);
    decide_ev = schedule_timer = retry_timer = NULL;
    loaded = loading = 0;
}
