/*
 * bus.h — the in-process event bus (DESIGN §5): topic patterns ("x.y", "x.*", "*"),
 * synchronous delivery on the loop, envelopes {"id","type","time","station","data"}.
 */
#ifndef PIPELET_BUS_H
#define PIPELET_BUS_H

#include <pipelet/plugin.h>

/* Core modules publish with this (data stolen; station_id may be NULL). */
void bus_emit(const char *topic, const char *station_id, json_t *data);
/* Fast check so hot paths (ocpp.message) can skip building data nobody wants. */
int bus_has_subscribers(const char *topic);
/* The pl_host fields. */
pl_subscription *bus_bus_subscribe(pl_plugin_handle *self, const char *pattern, pl_bus_cb cb,
                                   void *arg);
void bus_bus_unsubscribe(pl_subscription *sub);
void bus_bus_publish(pl_plugin_handle *self, const char *topic, const char *station_id,
                     json_t *data);
/* Drop every subscription of a plugin (on unload). */
int bus_unsubscribe_owner(pl_plugin_handle *self); /* returns how many */
/* Does a topic match a pattern ("transaction.*", "*", exact)? */
int bus_topic_match(const char *pattern, const char *topic);

#endif
