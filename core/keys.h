/*
 * keys.h — API keys managed through /api/v1/keys and the api_keys table (keys.c); the
 * key check itself is apikey.c's.
 */
#ifndef PIPELET_KEYS_H
#define PIPELET_KEYS_H

void keys_init(void);     /* registers the routes (after http_init) */
void keys_start(void);    /* loads the table (after the database started), refreshes it */
void keys_shutdown(void);
/* A request was authenticated with this key: its last_used_at is written (at most once a
 * minute; configured keys are not in the table). */
void keys_used(const char *name);

#endif
