/*
 * core.h — what every core module shares: the event loop, logging and config access.
 * Internal to the daemon; plugins see only include/pipelet/.
 */
#ifndef PIPELET_CORE_H
#define PIPELET_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pipelet/plugin.h>
#include <pipelet/ocpp.h>
#include <pipelet/station.h>

struct event_base;
struct evdns_base;

/* The one event loop (set by main before any module starts). */
extern struct event_base *core_base;
extern struct evdns_base *core_dns;

/* Structured logging: one line per call:
 *   2026-11-24T19:00:00.123Z level=info comp=ws msg="..."  */
void core_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void core_vlog(int level, const char *component, const char *fmt, va_list ap);
int core_log_open(const char *path, int level); /* path NULL or "-" = stderr */
int core_log_reopen(void);
int core_log_level_from_name(const char *name); /* -1 if unknown */

/* Configuration (core/config.c): any key of any section, borrowed, NULL if absent. */
const char *core_config_get(const char *section, const char *key);
/* Typed getters with the location (file:line) in error messages; PL_EINVAL on error. */
int core_config_int(const char *section, const char *key, long def, long min, long max,
                    long *out);
int core_config_bool(const char *section, const char *key, int def, int *out);

/* The name of a plugin handle ("core" for NULL). */
const char *core_plugin_name(pl_plugin_handle *self);

/* Monotonic milliseconds and wall-clock RFC 3339 (UTC, milliseconds). */
uint64_t core_now_ms(void);
const char *core_now_rfc3339(char *buf, size_t len);
int64_t core_wall_ms(void); /* milliseconds since the epoch */
const char *core_format_wall_ms(int64_t ms, char *buf, size_t len); /* RFC 3339, UTC */
const char *core_uuid(char buf[37]);

#define CORE_LOG_ERROR(comp, ...) core_log(PL_LOG_ERROR, comp, __VA_ARGS__)
#define CORE_LOG_WARN(comp, ...) core_log(PL_LOG_WARN, comp, __VA_ARGS__)
#define CORE_LOG_INFO(comp, ...) core_log(PL_LOG_INFO, comp, __VA_ARGS__)
#define CORE_LOG_DEBUG(comp, ...) core_log(PL_LOG_DEBUG, comp, __VA_ARGS__)

#endif
