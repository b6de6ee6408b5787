/*
 * metrics.h — Prometheus counters, gauges and histograms; rendered at /metrics.
 * name may carry labels: "pipelet_ocpp_messages_total{action=\"Heartbeat\",dir=\"in\"}".
 */
#ifndef PIPELET_METRICS_H
#define PIPELET_METRICS_H

struct evbuffer;
void metrics_add(const char *name, double v);     /* counter (== pl_host.metric_add) */
void metrics_set(const char *name, double v);     /* gauge */
void metrics_observe(const char *name, double v); /* histogram, seconds */
/* A counter looked up once and bumped many times (hot paths).  Handles die with
 * metrics_free(), which increments metrics_generation(): holders compare it. */
typedef struct metric metrics_counter;
metrics_counter *metrics_counter_get(const char *name);
void metrics_counter_add(metrics_counter *c, double v);
unsigned metrics_generation(void);
/* Collectors called at render time to refresh gauges (ws, db, registry ...). */
typedef void (*metrics_collector)(void *arg);
void metrics_add_collector(metrics_collector cb, void *arg);
void metrics_render(struct evbuffer *out);
void metrics_free(void);

#endif
