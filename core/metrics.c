/*
 * metrics.c — Prometheus metrics: counters, gauges and histograms keyed by their full
 * name with labels, rendered grouped by family with # TYPE lines.
 */
#include "metrics.h"
#include "core.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_COUNTER, M_GAUGE, M_HISTOGRAM };
static const double buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct metric {
    char *name;        /* with labels */
    size_t family_len; /* length of the name before '{' */
    int type;
    double value, sum;
    uint64_t count, bucket[NBUCKETS];
    struct metric *next;
};

#define NSLOTS 512
static struct metric *slots[NSLOTS];
static size_t nmetrics;
static unsigned generation = 1; /* bumped by metrics_free: counter handles are gone */

struct collector {
    metrics_collector cb;
    void *arg;
    struct collector *next;
};
static struct collector *collectors;

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NSLOTS;
}

static struct metric *get(const char *name, int type)
{
    if (!name)
        return NULL;
    unsigned h = hash(name);
    for (struct metric *m = slots[h]; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return m->type == type ? m : NULL;
    if (nmetrics >= 100000) /* labels from the network must not grow memory forever */
        return NULL;
    struct metric *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name))) {
        free(m);
        return NULL;
    }
    const char *brace = strchr(name, '{');
    m->family_len = brace ? (size_t)(brace - name) : strlen(name);
    m->type = type;
    m->next = slots[h];
    slots[h] = m;
    nmetrics++;
    return m;
}

void metrics_add(const char *name, double v)
{
    struct metric *m = get(name, M_COUNTER);
    if (m)
        m->value += v;
}

metrics_counter *metrics_counter_get(const char *name)
{
    return get(name, M_COUNTER);
}

void metrics_counter_add(metrics_counter *c, double v)
{
    if (c)
        c->value += v;
}

unsigned metrics_generation(void)
{
    return generation;
}

void metrics_set(const char *name, double v)
{
    struct metric *m = get(name, M_GAUGE);
    if (m)
        m->value = v;
}

void metrics_observe(const char *name, double v)
{
    struct metric *m = get(name, M_HISTOGRAM);
    if (!m)
        return;
    m->count++;
    m->sum += v;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (v <= buckets[i])
            m->bucket[i]++;
}

void metrics_add_collector(metrics_collector cb, void *arg)
{
    struct collector *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->cb = cb;
    c->arg = arg;
    c->next = collectors;
    collectors = c;
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp((*(struct metric *const *)a)->name, (*(struct metric *const *)b)->name);
}

/* name{labels} + suffix, with an extra label for histogram buckets */
static void print_series(struct evbuffer *out, const struct metric *m, const char *suffix,
                         const char *extra_label, double v)
{
    const char *labels = m->name + m->family_len; /* "" or "{...}" */
    if (extra_label) {
        if (*labels)
            evbuffer_add_printf(out, "%.*s%s{%.*s,%s} %.17g\n", (int)m->family_len, m->name,
                                suffix, (int)strlen(labels) - 2, labels + 1, extra_label, v);
        else
            evbuffer_add_printf(out, "%.*s%s{%s} %.17g\n", (int)m->family_len, m->name, suffix,
                                extra_label, v);
    } else {
        evbuffer_add_printf(out, "%.*s%s%s %.17g\n", (int)m->family_len, m->name, suffix, labels,
                            v);
    }
}

void metrics_render(struct evbuffer *out)
{
    for (struct collector *c = collectors; c; c = c->next)
        c->cb(c->arg);
    struct metric **all = malloc((nmetrics ? nmetrics : 1) * sizeof *all);
    if (!all)
        return;
    size_t n = 0;
    for (size_t i = 0; i < NSLOTS; i++)
        for (struct metric *m = slots[i]; m; m = m->next)
            all[n++] = m;
    qsort(all, n, sizeof *all, cmp_metric);
    static const char *const types[] = {"counter", "gauge", "histogram"};
    for (size_t i = 0; i < n; i++) {
        struct metric *m = all[i];
        if (i == 0 || all[i - 1]->family_len != m->family_len ||
            strncmp(all[i - 1]->name, m->name, m->family_len) != 0)
            evbuffer_add_printf(out, "# TYPE %.*s %s\n", (int)m->family_len, m->name,
                                types[m->type]);
        if (m->type != M_HISTOGRAM) {
            print_series(out, m, "", NULL, m->value);
            continue;
        }
        char le[64];
        for (size_t b = 0; b < NBUCKETS; b++) {
            snprintf(le, sizeof le, "le=\"%g\"", buckets[b]);
            print_series(out, m, "_bucket", le, (double)m->bucket[b]);
        }
        print_series(out, m, "_bucket", "le=\"+Inf\"", (double)m->count);
        print_series(out, m, "_sum", NULL, m->sum);
        print_series(out, m, "_count", NULL, (double)m->count);
    }
    free(all);
}

void metrics_free(void)
{
    for (size_t i = 0; i < NSLOTS; i++) {
        while (slots[i]) {
            struct metric *m = slots[i];
            slots[i] = m->next;
            free(m->name);
            free(m);
        }
    }
    nmetrics = 0;
    generation++;
    while (collectors) {
        struct collector *c = collectors;
        collectors = c->next;
        free(c);
    }
}
