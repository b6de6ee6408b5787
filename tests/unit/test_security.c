/* test_security.c — the specification of the station id rule (util_station_id_valid)
 * and of the redaction of charger credentials (util_redact_secrets). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int valid(const char *id)
{
    return util_station_id_valid(id, strlen(id));
}

START_TEST(station_id_accepts_identifier_string_up_to_48)
{
    ck_assert(valid("CP001"));
    ck_assert(valid("a"));
    ck_assert(valid("DE*ABC*E123-4_5=6:7+8|9@x.y"));
    char id[50];
    memset(id, 'x', 48);
    id[48] = '\0';
    ck_assert(valid(id));
    id[48] = 'x';
    id[49] = '\0';
    ck_assert(!valid(id)); /* 49: over CiString48 */
}
END_TEST

START_TEST(station_id_refuses_separators_escapes_controls_and_non_ascii)
{
    static const char *const bad[] = {"", "a/b", "a%2Fb", "a b", "a\tb", "a\nb", "\xff\xfe",
                                      "caf\xc3\xa9", "a~b", "a#b", "a?b", "a\\b", "a\"b",
                                      "a'b", "<a>", "a,b", "a;b", "a\x7f", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(!valid(bad[i]), "accepted \"%s\"", bad[i]);
    ck_assert(!util_station_id_valid("ab\0cd", 5)); /* NUL inside the given length */
    ck_assert(!util_station_id_valid(NULL, 0));
}
END_TEST

static const char *str_at(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    return json_string_value(v);
}

START_TEST(redaction_of_16_and_201_credentials)
{
    json_t *change = json_loads("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\","
                                "\"value\":\"0123456789abcdef\"}]", 0, NULL);
    util_redact_secrets(change);
    ck_assert_str_eq(str_at(json_array_get(change, 3), "value"), "***");
    ck_assert_str_eq(str_at(json_array_get(change, 3), "key"), "AuthorizationKey");

    json_t *setvars = json_loads(
        "{\"setVariableData\":[{\"attributeValue\":\"s3cret-s3cret-s3cret\",\"component\":{\"name\":"
        "\"SecurityCtrlr\"},\"variable\":{\"name\":\"BasicAuthPassword\"}},{\"attributeValue\":\"60\","
        "\"component\":{\"name\":\"OCPPCommCtrlr\"},\"variable\":{\"name\":\"HeartbeatInterval\"}}]}",
        0, NULL);
    util_redact_secrets(setvars);
    json_t *d = json_object_get(setvars, "setVariableData");
    ck_assert_str_eq(str_at(json_array_get(d, 0), "attributeValue"), "***");
    ck_assert_str_eq(str_at(json_array_get(d, 1), "attributeValue"), "60");

    json_t *profile = json_loads("{\"configurationSlot\":1,\"connectionData\":{\"ocppCsmsUrl\":"
                                 "\"wss://x\",\"basicAuthPassword\":\"pw-pw-pw-pw-pw-pw\"}}", 0, NULL);
    util_redact_secrets(profile);
    ck_assert_str_eq(str_at(json_object_get(profile, "connectionData"), "basicAuthPassword"), "***");
    ck_assert_str_eq(str_at(json_object_get(profile, "connectionData"), "ocppCsmsUrl"), "wss://x");

    /* the neutral shapes: set_configuration args, get_configuration result */
    json_t *neutral = json_loads("{\"key\":\"SecurityCtrlr/BasicAuthPassword\",\"value\":\"x\","
                                 "\"keys\":[{\"key\":\"AuthorizationKey\",\"value\":\"y\"},"
                                 "{\"key\":\"HeartbeatInterval\",\"value\":\"300\"}]}", 0, NULL);
    util_redact_secrets(neutral);
    ck_assert_str_eq(str_at(neutral, "value"), "***");
    json_t *keys = json_object_get(neutral, "keys");
    ck_assert_str_eq(str_at(json_array_get(keys, 0), "value"), "***");
    ck_assert_str_eq(str_at(json_array_get(keys, 1), "value"), "300");

    json_t *report = json_loads("{\"reportData\":[{\"component\":{\"name\":\"SecurityCtrlr\"},"
                                "\"variable\":{\"name\":\"BasicAuthPassword\"},\"variableAttribute\":"
                                "[{\"value\":\"leak\"}]}]}", 0, NULL);
    util_redact_secrets(report);
    json_t *attr = json_array_get(json_object_get(json_array_get(json_object_get(report, "reportData"), 0),
                                                  "variableAttribute"), 0);
    ck_assert_str_eq(str_at(attr, "value"), "***");
    util_redact_secrets(NULL); /* NULL-safe, like json_decref */
    json_decref(change);
    json_decref(setvars);
    json_decref(profile);
    json_decref(neutral);
    json_decref(report);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("security");
    tcase_add_test(tc, station_id_accepts_identifier_string_up_to_48);
    tcase_add_test(tc, station_id_refuses_separators_escapes_controls_and_non_ascii);
    tcase_add_test(tc, redaction_of_16_and_201_credentials);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
