/*
 * hashmap.c — the string-keyed hash map of hashmap.h: FNV-1a, chained buckets, doubled
 * when the load passes one entry per bucket.
 */
#include "hashmap.h"

#include <pipelet/plugin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct map_node {
    const char *key;
    void *val;
    uint32_t hash;
    struct map_node *next;
};

struct hashmap {
    struct map_node **b;
    size_t nb, count;
};

static uint32_t map_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct hashmap *hashmap_new(void)
{
    struct hashmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nb = 64;
    m->b = calloc(m->nb, sizeof *m->b);
    if (!m->b) {
        free(m);
        return NULL;
    }
    return m;
}

static struct map_node **map_slot(struct hashmap *m, const char *key, uint32_t h)
{
    struct map_node **pp = &m->b[h & (m->nb - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *hashmap_get(struct hashmap *m, const char *key)
{
    if (!m || !key)
        return NULL;
    struct map_node *n = *map_slot(m, key, map_hash(key));
    return n ? n->val : NULL;
}

static void map_grow(struct hashmap *m)
{
    size_t nb = m->nb * 2;
    struct map_node **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* stays correct, only slower */
    for (size_t i = 0; i < m->nb; i++) {
        struct map_node *n = m->b[i], *next;
        for (; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int hashmap_put(struct hashmap *m, const char *key, void *val)
{
    uint32_t h = map_hash(key);
    struct map_node **pp = map_slot(m, key, h);
    if (*pp) {
        (*pp)->key = key;
        (*pp)->val = val;
        return PL_OK;
    }
    struct map_node *n = calloc(1, sizeof *n);
    if (!n)
        return PL_ENOMEM;
    n->key = key;
    n->val = val;
    n->hash = h;
    *pp = n;
    if (++m->count > m->nb)
        map_grow(m);
    return PL_OK;
}

void *hashmap_del(struct hashmap *m, const char *key)
{
    if (!m || !key)
        return NULL;
    struct map_node **pp = map_slot(m, key, map_hash(key));
    struct map_node *n = *pp;
    if (!n)
        return NULL;
    void *val = n->val;
    *pp = n->next;
    free(n);
    m->count--;
    return val;
}

size_t hashmap_count(struct hashmap *m)
{
    return m ? m->count : 0;
}

void hashmap_foreach(struct hashmap *m, void (*fn)(void *val, void *arg), void *arg)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++)
        for (struct map_node *n = m->b[i]; n; n = n->next)
            fn(n->val, arg);
}

void hashmap_free(struct hashmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        struct map_node *n = m->b[i], *next;
        for (; n; n = next) {
            next = n->next;
            free(n);
        }
    }
    free(m->b);
    free(m);
}
