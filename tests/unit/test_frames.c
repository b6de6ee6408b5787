/* test_frames.c — the specification of the RFC 6455 frame codec (core/ws_frame.c) and
 * of the OCPP-J frame parser and validator (core/ocppj.c, core/ocpp_schema.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ocpp_schema.h"
#include "ocppj.h"
#include "ws_frame.h"

static int parse(const uint8_t *b, size_t n, int server, struct ws_frame_header *h)
{
    return ws_frame_parse_header(b, n, server, 1024, h);
}

START_TEST(ws_headers_follow_rfc6455)
{
    struct ws_frame_header h;
    const uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t b[14];
    /* masked text frame from a client, as the server reads it */
    size_t n = ws_frame_encode_header(b, 1, WS_OP_TEXT, 5, mask);
    ck_assert_int_eq(parse(b, n, 1, &h), (int)n);
    ck_assert(h.fin && h.masked && h.opcode == WS_OP_TEXT && h.payload_len == 5);
    ck_assert_int_eq(memcmp(h.mask, mask, 4), 0);
    /* the direction rules: servers need masked frames, clients unmasked ones */
    ck_assert_int_eq(parse(b, n, 0, &h), -1002);
    n = ws_frame_encode_header(b, 1, WS_OP_TEXT, 5, NULL);
    ck_assert_int_eq(parse(b, n, 1, &h), -1002);
    ck_assert_int_eq(parse(b, n, 0, &h), 2);
    /* 16- and 64-bit lengths; oversize is 1009 */
    n = ws_frame_encode_header(b, 1, WS_OP_BINARY, 300, NULL);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(parse(b, n, 0, &h), 4);
    ck_assert(h.payload_len == 300);
    n = ws_frame_encode_header(b, 1, WS_OP_BINARY, 70000, NULL);
    ck_assert_int_eq(n, 10);
    ck_assert_int_eq(parse(b, n, 0, &h), -1009);
    /* partial headers ask for more */
    ck_assert_int_eq(parse(b, 1, 0, &h), 0);
    ck_assert_int_eq(parse(b, 5, 0, &h), 0);
    /* reserved bits, unknown opcodes, fragmented or long control frames */
    uint8_t rsv[2] = {0xC1, 0x00}, op3[2] = {0x83, 0x00}, fragping[2] = {0x09, 0x00},
            longping[2] = {0x89, 126};
    ck_assert_int_eq(parse(rsv, 2, 0, &h), -1002);
    ck_assert_int_eq(parse(op3, 2, 0, &h), -1002);
    ck_assert_int_eq(parse(fragping, 2, 0, &h), -1002);
    ck_assert_int_eq(parse(longping, 2, 0, &h), -1002);
    /* masking is an involution */
    uint8_t data[6] = "hello";
    ws_frame_unmask(data, 5, mask, 0);
    ck_assert_int_ne(memcmp(data, "hello", 5), 0);
    ws_frame_unmask(data, 5, mask, 0);
    ck_assert_int_eq(memcmp(data, "hello", 5), 0);
    /* close codes a peer may send */
    ck_assert(ws_close_code_valid(1000) && ws_close_code_valid(4000) && ws_close_code_valid(1011));
    ck_assert(!ws_close_code_valid(1005) && !ws_close_code_valid(1006) && !ws_close_code_valid(1015));
    ck_assert(!ws_close_code_valid(999) && !ws_close_code_valid(5000));
}
END_TEST

START_TEST(ocppj_frames_parse_and_classify)
{
    struct ocppj_frame f;
    char err[256];
    const char *call = "[2,\"19223201\",\"BootNotification\",{\"chargePointVendor\":\"V\",\"chargePointModel\":\"M\"}]";
    ck_assert_int_eq(ocppj_parse_frame(call, strlen(call), &f, err, sizeof err), OCPPJ_OK);
    ck_assert_int_eq(f.type, 2);
    ck_assert_str_eq(f.id, "19223201");
    ck_assert_str_eq(f.action, "BootNotification");
    json_decref(f.root);
    const char *res = "[3,\"1\",{\"status\":\"Accepted\"}]";
    ck_assert_int_eq(ocppj_parse_frame(res, strlen(res), &f, err, sizeof err), OCPPJ_OK);
    ck_assert_int_eq(f.type, 3);
    json_decref(f.root);
    const char *e = "[4,\"1\",\"NotImplemented\",\"no\",{}]";
    ck_assert_int_eq(ocppj_parse_frame(e, strlen(e), &f, err, sizeof err), OCPPJ_OK);
    ck_assert_str_eq(f.error_code, "NotImplemented");
    json_decref(f.root);
    ck_assert_int_eq(ocppj_parse_frame("{x", 2, &f, err, sizeof err), OCPPJ_BAD_JSON);
    json_decref(f.root);
    ck_assert_int_eq(ocppj_parse_frame("[2,\"a\",\"Heartbeat\"]", 19, &f, err, sizeof err), OCPPJ_BAD_FRAME);
    ck_assert_str_eq(f.id, "a");
    json_decref(f.root);
    ck_assert_int_eq(ocppj_parse_frame("[7,\"a\",{}]", 10, &f, err, sizeof err), OCPPJ_BAD_TYPE);
    json_decref(f.root);
    const char *longid = "[2,\"0123456789012345678901234567890123456789\",\"Heartbeat\",{}]";
    ck_assert_int_eq(ocppj_parse_frame(longid, strlen(longid), &f, err, sizeof err), OCPPJ_BAD_JSON);
    json_decref(f.root);
}
END_TEST

static int check_payload(const struct pl_ocpp_protocol *p, const char *action, const char *json)
{
    char err[256];
    json_t *v = json_loads(json, 0, NULL);
    int r = ocpp_api_validate(ocpp_api_action(p, action)->request, v, err, sizeof err);
    json_decref(v);
    return r;
}

START_TEST(validator_classifies_violations_per_version)
{
    const struct pl_ocpp_protocol *v16 = ocpp_api_protocol("ocpp1.6"), *v201 = ocpp_api_protocol("ocpp2.0.1");
    ck_assert_uint_eq(v16->nactions, 39);
    ck_assert_uint_eq(v201->nactions, 64);
    ck_assert_ptr_null(ocpp_api_protocol("ocpp2.1"));
    ck_assert_int_eq(ocpp_api_action(v16, "Reset")->direction, PL_OCPP_TO_STATION);
    ck_assert_int_eq(ocpp_api_action(v16, "DataTransfer")->direction, PL_OCPP_BOTH);
    ck_assert_int_eq(ocpp_api_action(v201, "TransactionEvent")->direction, PL_OCPP_FROM_STATION);
    ck_assert_ptr_null(ocpp_api_action(v16, "TransactionEvent"));
    ck_assert_int_eq(check_payload(v16, "Authorize", "{\"idTag\":\"ABC\"}"), PL_VALID_OK);
    ck_assert_int_eq(check_payload(v16, "Authorize", "{}"), PL_VALID_OCCURRENCE);
    ck_assert_int_eq(check_payload(v16, "Authorize", "{\"idTag\":5}"), PL_VALID_TYPE);
    ck_assert_int_eq(check_payload(v16, "Authorize", "{\"idTag\":\"123456789012345678901\"}"), PL_VALID_PROPERTY);
    ck_assert_int_eq(check_payload(v16, "Authorize", "{\"idTag\":\"A\",\"x\":1}"), PL_VALID_FORMAT);
    ck_assert_int_eq(check_payload(v16, "StartTransaction", "{\"connectorId\":1,\"idTag\":\"A\",\"meterStart\":0,\"timestamp\":\"yesterday\"}"), PL_VALID_PROPERTY);
    ck_assert_int_eq(check_payload(v16, "StartTransaction", "{\"connectorId\":1.0,\"idTag\":\"A\",\"meterStart\":0,\"timestamp\":\"2026-01-01T00:00:00.123+01:00\"}"), PL_VALID_OK);
    ck_assert_int_eq(check_payload(v201, "Reset", "{\"type\":\"Hard\"}"), PL_VALID_PROPERTY);
    ck_assert_str_eq(ocpp_api_error_code(v16, PL_VALID_OCCURRENCE), "OccurenceConstraintViolation");
    ck_assert_str_eq(ocpp_api_error_code(v201, PL_VALID_OCCURRENCE), "OccurrenceConstraintViolation");
    ck_assert_str_eq(ocpp_api_error_code(v16, PL_VALID_FORMAT), "FormationViolation");
    ck_assert_str_eq(ocpp_api_error_code(v201, PL_VALID_FORMAT), "FormatViolation");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("frames");
    TCase *tc = tcase_create("frames");
    tcase_add_test(tc, ws_headers_follow_rfc6455);
    tcase_add_test(tc, ocppj_frames_parse_and_classify);
    tcase_add_test(tc, validator_classifies_violations_per_version);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
