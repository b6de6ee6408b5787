/*
 * hashmap.h — a small string-keyed hash map (chained, grows x2), shared by the core's
 * modules (stations, write chains, message logs, tokens, keys).  The key is borrowed: it
 * must stay valid while the entry is in the map (point it into the value).
 */
#ifndef PIPELET_HASHMAP_H
#define PIPELET_HASHMAP_H

#include <stddef.h>

struct hashmap;
struct hashmap *hashmap_new(void);
void *hashmap_get(struct hashmap *m, const char *key);
int hashmap_put(struct hashmap *m, const char *key, void *val); /* replaces; PL_OK or PL_ENOMEM */
void *hashmap_del(struct hashmap *m, const char *key);          /* the old value */
size_t hashmap_count(struct hashmap *m);
/* Calls fn for every value; fn must not change the map. */
void hashmap_foreach(struct hashmap *m, void (*fn)(void *val, void *arg), void *arg);
void hashmap_free(struct hashmap *m); /* values are not freed */

#endif
