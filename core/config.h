/*
 * config.h — the INI configuration: [section] key = value, '#'/';' comments, -o
 * overrides.  Every value remembers file:line so errors can name them.
 */
#ifndef PIPELET_CONFIG_H
#define PIPELET_CONFIG_H

#include <stddef.h>

struct pl_config_key;

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
/* At start: every key of the core sections is a known one (typos fail) and the
 * few-words keys hold one of their words; the first error goes to err. */
int config_validate_core(char *err, size_t errlen);

/* A section against its declarations (pipelet/plugin.h, struct pl_config_key):
 * unknown keys, types, ranges, words.  Logs one "file:line: ..." error each and
 * returns how many. */
int config_check_section(const char *section, const struct pl_config_key *keys, size_t n);
/* Every core section, values included (SIGHUP checks before it applies). */
int config_check_core(void);
/* One debug line per declared key ("declared [section] key: type range, default ...";
 * --check-config with log_level = debug lists what a configuration may hold). */
void config_describe(const char *section, const struct pl_config_key *keys, size_t n);
void config_describe_core(void);

/* SIGHUP, in three steps: stage (read the file and the -o overrides again; until
 * commit or abort every getter sees the staged values; values set at run time carry
 * over), check, then commit or abort.  A value the reload did not change keeps its
 * pointer, and replaced ones are freed only by config_free: what plugins borrowed
 * never dangles.  stage returns -1 with err ("file:line: ...") and stages nothing. */
int config_stage_reload(char *err, size_t errlen);
void config_commit(void);
void config_abort(void);
/* While staged: did the key change (added, removed, other value)?  Its old value. */
int config_changed(const char *section, const char *key);
const char *config_previous(const char *section, const char *key);
/* While staged: one warning per changed key flagged PL_CONFIG_RESTART; the count. */
int config_report_restart(const char *section, const struct pl_config_key *keys, size_t n);
int config_report_core_restart(void);

#endif
