/* test_core.c — the specification of the small core modules: INI config, event bus,
 * and the util helpers (hashing, base64, UTF-8, RFC 3339, passwords). */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "core.h"
#include "hashmap.h"
#include "host.h"
#include "util.h"

/* PL_HOST_HAS() says a service exists when the table is long enough: every entry of the
 * table must then be filled, or a plugin calls through NULL.  The table after the size
 * field is pointers only. */
START_TEST(every_host_service_is_filled)
{
    const struct pl_host *h = host_table();
    ck_assert_uint_eq(h->size, sizeof *h);
    const char *base = (const char *)h;
    size_t first = offsetof(struct pl_host, log);
    for (size_t off = first; off + sizeof(void *) <= sizeof *h; off += sizeof(void *)) {
        void *p;
        memcpy(&p, base + off, sizeof p);
        ck_assert_msg(p != NULL, "pl_host entry at offset %zu is NULL", off);
    }
}
END_TEST

static void sum_values(void *val, void *arg)
{
    *(long *)arg += (long)(intptr_t)val;
}

START_TEST(hashmap_puts_gets_replaces_deletes_and_grows)
{
    struct hashmap *m = hashmap_new();
    static char keys[1000][8];
    for (int i = 0; i < 1000; i++) { /* past 64 buckets: it grows, entries stay found */
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        ck_assert_int_eq(hashmap_put(m, keys[i], (void *)(intptr_t)(i + 1)), PL_OK);
    }
    ck_assert_uint_eq(hashmap_count(m), 1000);
    ck_assert_int_eq((int)(intptr_t)hashmap_get(m, "k999"), 1000);
    ck_assert_ptr_null(hashmap_get(m, "k1000"));
    ck_assert_int_eq(hashmap_put(m, keys[5], (void *)(intptr_t)42), PL_OK); /* replaces */
    ck_assert_uint_eq(hashmap_count(m), 1000);
    ck_assert_int_eq((int)(intptr_t)hashmap_del(m, "k5"), 42);
    ck_assert_ptr_null(hashmap_del(m, "k5"));
    long sum = 0;
    hashmap_foreach(m, sum_values, &sum);
    ck_assert_int_eq(sum, 1000L * 1001 / 2 - 6);
    ck_assert_ptr_null(hashmap_get(NULL, "x"));
    ck_assert_uint_eq(hashmap_count(NULL), 0);
    hashmap_free(m);
}
END_TEST

START_TEST(config_parses_sections_keys_comments_and_quotes)
{
    char err[256];
    const char *text = "# comment\n[core]\nlog_level = debug ; not a comment\n"
                       "; another\n[http]\n  port=8080  \nname = \"  spaced  \"\n";
    ck_assert_int_eq(config_load_string("t.conf", text, err, sizeof err), 0);
    ck_assert_str_eq(core_config_get("core", "log_level"), "debug ; not a comment");
    ck_assert_str_eq(core_config_get("http", "port"), "8080");
    ck_assert_str_eq(core_config_get("http", "name"), "  spaced  ");
    ck_assert_str_eq(config_where("http", "port"), "t.conf:6");
    ck_assert_ptr_null(core_config_get("http", "missing"));
    config_free();
}
END_TEST

START_TEST(config_errors_name_file_and_line)
{
    char err[256];
    ck_assert_int_eq(config_load_string("x.conf", "[core]\nnovalue\n", err, sizeof err), -1);
    ck_assert_str_eq(err, "x.conf:2: expected 'key = value'");
    ck_assert_int_eq(config_load_string("x.conf", "key = 1\n", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "x.conf:1: key 'key' outside any [section]"));
    ck_assert_int_eq(config_load_string("x.conf", "[bad\n", err, sizeof err), -1);
    ck_assert_str_eq(err, "x.conf:1: malformed section header");
    ck_assert_int_eq(config_load_string("x.conf", "[core]\nlog_levle = info\n", err, sizeof err), 0);
    ck_assert_int_eq(config_validate_core(err, sizeof err), -1);
    ck_assert_str_eq(err, "x.conf:2: unknown key 'log_levle' in [core]");
    config_free();
}
END_TEST

START_TEST(config_typed_getters_and_overrides)
{
    char err[256];
    long n;
    int b;
    const char *ov[] = {"http.port=9999", "newsec.key=v=1"};
    ck_assert_int_eq(config_load(NULL, ov, 2, err, sizeof err), 0);
    ck_assert_int_eq(core_config_int("http", "port", 1, 1, 65535, &n), PL_OK);
    ck_assert_int_eq(n, 9999);
    ck_assert_str_eq(core_config_get("newsec", "key"), "v=1");
    ck_assert_str_eq(config_where("http", "port"), "-o");
    ck_assert_int_eq(core_config_int("http", "absent", 42, 1, 100, &n), PL_OK);
    ck_assert_int_eq(n, 42);
    ck_assert_int_eq(core_config_int("http", "port", 1, 1, 100, &n), PL_EINVAL);
    const char *bad[] = {"nodot=1"};
    ck_assert_int_eq(config_load(NULL, bad, 1, err, sizeof err), -1);
    ck_assert_int_eq(config_load_string("b", "[s]\nyes = on\nno = maybe\n", err, sizeof err), 0);
    ck_assert_int_eq(core_config_bool("s", "yes", 0, &b), PL_OK);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(core_config_bool("s", "no", 0, &b), PL_EINVAL);
    config_free();
}
END_TEST

static int delivered;
static char last_topic[64];
static pl_subscription *self_unsub;

static void on_event(const char *topic, json_t *env, void *arg)
{
    delivered++;
    snprintf(last_topic, sizeof last_topic, "%s", topic);
    ck_assert_str_eq(json_string_value(json_object_get(env, "type")), topic);
    ck_assert_ptr_nonnull(json_object_get(env, "id"));
    ck_assert_ptr_nonnull(json_object_get(env, "time"));
    if (arg)
        bus_bus_unsubscribe(self_unsub);
}

START_TEST(bus_matches_patterns_and_survives_unsubscribe_in_callback)
{
    ck_assert(bus_topic_match("*", "a.b"));
    ck_assert(bus_topic_match("transaction.*", "transaction.started"));
    ck_assert(!bus_topic_match("transaction.*", "transactions.x"));
    ck_assert(bus_topic_match("station.status", "station.status"));
    ck_assert(!bus_topic_match("station.status", "station.statusx"));

    delivered = 0;
    pl_subscription *s = bus_bus_subscribe(NULL, "transaction.*", on_event, NULL);
    self_unsub = bus_bus_subscribe(NULL, "*", on_event, (void *)1);
    ck_assert(bus_has_subscribers("transaction.started"));
    bus_emit("transaction.started", "CP1", json_pack("{s:i}", "id", 1));
    ck_assert_int_eq(delivered, 2);
    bus_emit("transaction.ended", NULL, NULL);
    ck_assert_int_eq(delivered, 3); /* the self-unsubscribed one is gone */
    bus_emit("station.status", "CP1", json_object());
    ck_assert_int_eq(delivered, 3);
    ck_assert(!bus_has_subscribers("station.status"));
    bus_bus_unsubscribe(s);
    ck_assert(!bus_has_subscribers("transaction.started"));
}
END_TEST

START_TEST(util_hashes_encodings_and_passwords)
{
    char hex[65];
    util_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char b64[64];
    unsigned char raw[64];
    ck_assert_int_eq(util_base64_encode((const unsigned char *)"hello", 5, b64, sizeof b64), 8);
    ck_assert_str_eq(b64, "aGVsbG8=");
    ck_assert_int_eq(util_base64_decode("aGVsbG8=", raw, sizeof raw), 5);
    ck_assert_int_eq(memcmp(raw, "hello", 5), 0);
    ck_assert_int_eq(util_base64_decode("a$==", raw, sizeof raw), -1);
    char stored[200];
    ck_assert_int_eq(util_password_hash("s3cret", stored, sizeof stored), 0);
    ck_assert(util_password_verify("s3cret", stored));
    ck_assert(!util_password_verify("s3cre", stored));
    ck_assert(!util_password_verify("s3cret", "garbage"));
    char id1[37], id2[37];
    core_uuid(id1);
    core_uuid(id2);
    ck_assert_int_eq(strlen(id1), 36);
    ck_assert_str_ne(id1, id2);
    ck_assert_int_eq(id1[14], '4');
}
END_TEST

START_TEST(util_utf8_and_rfc3339)
{
    ck_assert(util_utf8_valid((const unsigned char *)"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 16));
    ck_assert(!util_utf8_valid((const unsigned char *)"\xc0\xaf", 2));      /* overlong */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));  /* surrogate */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xe2\x82", 2));      /* truncated */
    ck_assert(!util_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    int64_t ms;
    ck_assert_int_eq(util_parse_rfc3339("1970-01-01T00:00:01.5Z", &ms), 0);
    ck_assert_int_eq(ms, 1500);
    ck_assert_int_eq(util_parse_rfc3339("2026-11-24T20:00:00+01:00", &ms), 0);
    int64_t ms2;
    ck_assert_int_eq(util_parse_rfc3339("2026-11-24T19:00:00Z", &ms2), 0);
    ck_assert(ms == ms2);
    ck_assert_int_eq(util_parse_rfc3339("2026-02-30T00:00:00Z", NULL), -1);
    ck_assert_int_eq(util_parse_rfc3339("2026-11-24 19:00", NULL), -1);
    ck_assert_int_eq(util_parse_rfc3339("2026-11-24T19:00:00", NULL), -1);
    char s[] = "CP%2F1%20x";
    ck_assert_int_eq(util_percent_decode(s), 0);
    ck_assert_str_eq(s, "CP/1 x");
    char bad[] = "%zz";
    ck_assert_int_eq(util_percent_decode(bad), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_host_service_is_filled);
    tcase_add_test(tc, hashmap_puts_gets_replaces_deletes_and_grows);
    tcase_add_test(tc, config_parses_sections_keys_comments_and_quotes);
    tcase_add_test(tc, config_errors_name_file_and_line);
    tcase_add_test(tc, config_typed_getters_and_overrides);
    tcase_add_test(tc, bus_matches_patterns_and_survives_unsubscribe_in_callback);
    tcase_add_test(tc, util_hashes_encodings_and_passwords);
    tcase_add_test(tc, util_utf8_and_rfc3339);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
