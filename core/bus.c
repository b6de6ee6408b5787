/*
 * bus.c — the in-process event bus.  Synchronous delivery on the loop thread;
 * subscribers must be quick.  Unsubscribing inside a callback is safe: entries are
 * marked dead and swept after the outermost publish returns.
 */
#include "bus.h"
#include "core.h"

#include <stdlib.h>
#include <string.h>

struct pl_subscription {
    pl_plugin_handle *owner;
    char *pattern;
    pl_bus_cb cb;
    void *arg;
    int dead;
    struct pl_subscription *next;
};

static struct pl_subscription *subs;
static int publishing; /* nesting depth of bus_emit */

int bus_topic_match(const char *pattern, const char *topic)
{
    if (strcmp(pattern, "*") == 0)
        return 1;
    size_t pl = strlen(pattern);
    if (pl >= 2 && strcmp(pattern + pl - 2, ".*") == 0)
        return strncmp(pattern, topic, pl - 1) == 0; /* "transaction." prefix */
    return strcmp(pattern, topic) == 0;
}

int bus_has_subscribers(const char *topic)
{
    for (struct pl_subscription *s = subs; s; s = s->next)
        if (!s->dead && bus_topic_match(s->pattern, topic))
            return 1;
    return 0;
}

static void sweep(void)
{
    struct pl_subscription **pp = &subs;
    while (*pp) {
        struct pl_subscription *s = *pp;
        if (s->dead) {
            *pp = s->next;
            free(s->pattern);
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void bus_emit(const char *topic, const char *station_id, json_t *data)
{
    if (!data)
        data = json_object();
    if (!bus_has_subscribers(topic)) {
        json_decref(data);
        return;
    }
    char id[37], ts[40];
    json_t *env = json_pack("{s:s, s:s, s:s, s:o?, s:o}", "id", core_uuid(id), "type", topic,
                            "time", core_now_rfc3339(ts, sizeof ts), "station",
                            station_id ? json_string(station_id) : json_null(), "data", data);
    if (!env)
        return;
    publishing++;
    for (struct pl_subscription *s = subs; s; s = s->next)
        if (!s->dead && bus_topic_match(s->pattern, topic))
            s->cb(topic, env, s->arg);
    if (--publishing == 0)
        sweep();
    json_decref(env);
}

pl_subscription *bus_bus_subscribe(pl_plugin_handle *self, const char *pattern, pl_bus_cb cb,
                                   void *arg)
{
    if (!pattern || !cb)
        return NULL;
    struct pl_subscription *s = calloc(1, sizeof *s);
    if (!s || !(s->pattern = strdup(pattern))) {
        free(s);
        return NULL;
    }
    s->owner = self;
    s->cb = cb;
    s->arg = arg;
    /* append: delivery order follows subscription order */
    struct pl_subscription **pp = &subs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    return s;
}

void bus_bus_unsubscribe(pl_subscription *sub)
{
    if (!sub)
        return;
    sub->dead = 1;
    if (!publishing)
        sweep();
}

void bus_bus_publish(pl_plugin_handle *self, const char *topic, const char *station_id,
                     json_t *data)
{
    (void)self;
    if (!topic) {
        json_decref(data);
        return;
    }
    bus_emit(topic, station_id, data);
}

int bus_unsubscribe_owner(pl_plugin_handle *self)
{
    int n = 0;
    for (struct pl_subscription *s = subs; s; s = s->next)
        if (s->owner == self && !s->dead) {
            s->dead = 1;
            n++;
        }
    if (!publishing)
        sweep();
    return n;
}
