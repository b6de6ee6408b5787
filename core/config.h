/*
 * config.h — the INI configuration: [section] key = value, '#'/';' comments, -o
 * overrides.  Every value remembers file:line so errors can name them.
 */
#ifndef PIPELET_CONFIG_H
#define PIPELET_CONFIG_H

#include <stddef.h>

/* Load a file (replacing the current config), then apply overrides ("sec.key=value").
 * On error fills err ("file:line: message") and returns -1. */
int config_load(const char *path, const char *const *overrides, size_t noverrides,
                char *err, size_t errlen);
/* Parse from a string (tests, fuzzing). name is used in messages. */
int config_load_string(const char *name, const char *text, char *err, size_t errlen);
void config_free(void);
/* Where a key came from: "file:line" or "-o" or "default" (borrowed). */
const char *config_where(const char *section, const char *key);
typedef void (*config_foreach_cb)(const char *key, const char *value, const char *where,
                                  void *arg);
/* Visit every key of a section in file order; returns the number visited. */
int config_foreach(const char *section, config_foreach_cb cb, void *arg);
int config_has_section(const char *section);
/* Record an effective value (e.g. the port bound when port = 0), so plugins reading
 * the configuration see what is really in use. */
int config_set(const char *section, const char *key, const char *value);
/* Check every key of the core sections against the known set (typos fail). */
int config_validate_core(char *err, size_t errlen);

#endif
