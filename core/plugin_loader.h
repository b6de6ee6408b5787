/*
 * plugin_loader.h — finds, checks, loads and drives plugins through their lifecycle
 * (init -> start -> reload -> stop -> fini), refusing incompatible ones loudly.
 */
#ifndef PIPELET_PLUGIN_LOADER_H
#define PIPELET_PLUGIN_LOADER_H

#include "core.h"

/* Load every plugin named in [plugins] load, calling init.  Returns 0, or -1 when a
 * required plugin failed (the daemon must exit non-zero). */
int loader_load_all(const struct pl_host *host);
/* Check one file against the host ABI without initialising it; fills why on refusal.
 * Returns the descriptor (and the dlopen handle in *dl) or NULL. */
const struct pl_plugin *loader_probe(const char *path, void **dl, char *why, size_t whylen);
/* --check-config: find and ABI-check every listed plugin, and check its section
 * against its declared keys (its init runs in check mode: see check_section). */
int loader_check_all(void);
int loader_start_all(void);
/* SIGHUP: re-read and check the whole configuration; if it holds, apply it (the log
 * level; the rest is read by whoever needs it) and call every plugin's reload.  A broken
 * file changes nothing and is logged with file:line. */
void loader_reload_all(void);
void loader_stop_all(void);
void loader_fini_all(void);
/* [{"name","version","description","abi":"1.0","file","required","state"}] (new) */
json_t *loader_list_json(void);
/* Print every plugin found in the plugin dirs (for --list-plugins). */
int loader_print_available(const char *dirs);
const char *loader_default_dir(void);
/* pl_host.config_declare (ABI 1.2). */
int loader_config_declare(pl_plugin_handle *self, const struct pl_config_key *keys, size_t n);
/* A plugin reads one of its keys: warn when it declared its keys but not this one. */
void loader_config_read(pl_plugin_handle *self, const char *key);

#endif
