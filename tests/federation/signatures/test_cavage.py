"""draft-cavage-12 signatures (``signatures/cavage.py``): the published vectors (Appendix C, Mastodon's and


Takahe's test values) and each verification rule on its own."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from linkblog.dates import format_http_date, parse_http_date
from linkblog.federation.signatures import (IncomingRequest, ParsedSignature, Policy, Rejected, TimeWindow, Verified,
                                            parse_signature, sign_headers, verify_parsed, verify_request)
from linkblog.federation.signatures.digest import digest_header

from tests.federation.signatures.signing import (ACTIVITYPUB, BODY, CAVAGE, INBOX, KEY_ID, LENIENT, NOW,
                                                 OTHER_PUBLIC_PEM, PRIVATE_PEM, assert_rejected, cavage_with, incoming,
                                                 lookup, parse_message, resign_cavage, signed_cavage, unwrap, verify)


# --------------------------------------------------------------------------------------------
# Vectors: Mastodon's and Takahe's test values (activitypub-rsa-sha256-vectors.json)
# --------------------------------------------------------------------------------------------

MASTODON_CLOCK = datetime(2023, 12, 20, 10, 0, tzinfo=timezone.utc)
ACTIVITYPUB_EXPECTED: dict[str, tuple[int | None, str]] = {
    # name: (None for accept, else the status) and a piece of the reason
    "GET, valid": (None, ""),
    "GET with query string, valid": (None, ""),
    "GET with query string, signature made without query (compatibility quirk)": (None, ""),
    "GET with mismatching query": (401, "does not match"),
    "GET with mismatching path": (401, "does not match"),
    "mismatching method (POST with a GET signature)": (401, "digest is not signed"),
    "unparsable Date": (400, "Date header"),
    "Date older than a day": (401, "expired"),
    "POST with signed Digest, valid": (None, ""),
    "POST without Digest in the signed headers": (401, "digest is not signed"),
    "POST with tampered body": (401, "Digest does not match the body"),
    "POST with tampered path": (401, "does not match"),
    "Takahe known-good POST (ActivityPub Create as body)": (None, ""),
    # Takahe rejects a missing algorithm; Mastodon (and draft-cavage-12) take it as hs2019.
    "Takahe: same request without algorithm parameter": (None, ""),
}


def activitypub_case_request(case: dict) -> IncomingRequest:
    request = case["request"]
    body = (request["body"] or "").encode()
    return IncomingRequest(request["method"], request["target"], request["headers"], body)


def test_every_activitypub_vector_has_an_expectation():
    assert {case["name"] for case in ACTIVITYPUB["cases"]} == set(ACTIVITYPUB_EXPECTED)


@pytest.mark.parametrize("case", ACTIVITYPUB["cases"], ids=lambda case: case["name"])
def test_activitypub_vectors(case):
    key = ACTIVITYPUB["keys"][case["key"]]
    request = activitypub_case_request(case)
    # Mastodon's spec freezes its clock; Takahe's vector is checked at its own Date.
    now = MASTODON_CLOCK if case["key"] == "mastodon-spec-key" else parse_http_date(request.headers["Date"])
    find = lookup(key["public_key_pem"])
    result = verify_request(request, now, find)
    status, reason = ACTIVITYPUB_EXPECTED[case["name"]]
    if status is None:
        assert isinstance(result, Verified), result
        assert result.key_id == key["keyId"]
        assert find.asked == [key["keyId"]]
    else:
        assert_rejected(result, status, reason)


@pytest.mark.parametrize("case", [c for c in ACTIVITYPUB["cases"] if ACTIVITYPUB_EXPECTED[c["name"]][0] is None],
                         ids=lambda case: case["name"])
def test_activitypub_vectors_signing_string_is_rebuilt_exactly(case):
    parsed = parse_signature(activitypub_case_request(case))
    assert isinstance(parsed, ParsedSignature)
    assert case["signing_string_for_the_signature"].encode() in parsed.signature_bases


def test_query_less_request_target_quirk_is_reported_and_can_be_refused():
    case = next(c for c in ACTIVITYPUB["cases"] if "compatibility quirk" in c["name"])
    key_pem = ACTIVITYPUB["keys"]["mastodon-spec-key"]["public_key_pem"]
    request = activitypub_case_request(case)
    accepted = verify_request(request, MASTODON_CLOCK, lookup(key_pem))
    assert isinstance(accepted, Verified) and accepted.query_signed is False
    strict = verify_request(request, MASTODON_CLOCK, lookup(key_pem), policy=Policy(allow_query_less_target=False))
    assert_rejected(strict, 401, "does not match")


def test_activitypub_vector_with_query_reports_query_signed():
    case = next(c for c in ACTIVITYPUB["cases"] if c["name"] == "GET with query string, valid")
    key_pem = ACTIVITYPUB["keys"]["mastodon-spec-key"]["public_key_pem"]
    result = verify_request(activitypub_case_request(case), MASTODON_CLOCK, lookup(key_pem))
    assert isinstance(result, Verified) and result.query_signed is True


def test_activitypub_vector_digest_values_match_our_digest():
    for case in ACTIVITYPUB["cases"]:
        if case["request"]["body"] is not None:
            assert digest_header(case["request"]["body"].encode()) == case["body_sha256_digest"]


# --------------------------------------------------------------------------------------------
# Vectors: draft-cavage-12 Appendix C
# --------------------------------------------------------------------------------------------

CAVAGE_CLOCK = datetime(2014, 1, 5, 21, 31, 40, tzinfo=timezone.utc)


def cavage_case(name: str) -> dict:
    return next(case for case in CAVAGE["cases"] if case["name"] == name)


def cavage_vector_request(signature_value: str) -> IncomingRequest:
    method, target, fields, body = parse_message(CAVAGE["request"])
    return IncomingRequest(method, target, httpx.Headers(fields + [("Signature", signature_value)]), body)


def printed_signature(case: dict) -> str:
    printed = unwrap(case["authorization_header_as_printed"])
    return printed.removeprefix("Authorization: Signature ")


@pytest.mark.parametrize("name", ["Default Test", "Basic Test"])
def test_cavage_appendix_c_signatures_verify(name):
    case = cavage_case(name)
    request = cavage_vector_request(printed_signature(case))
    parsed = parse_signature(request, policy=LENIENT)
    assert isinstance(parsed, ParsedSignature)
    assert parsed.key_id == "Test"
    assert base64.b64encode(parsed.signature).decode() == case["signature"]
    assert parsed.signature_bases[0] == case["signing_string"].encode()
    result = verify_parsed(parsed, CAVAGE["public_key_pem"], CAVAGE_CLOCK)
    assert isinstance(result, Verified) and result.algorithm == "rsa-v1_5-sha256"


@pytest.mark.parametrize("name, reason", [
    ("Default Test", "(request-target) is not signed"),   # signs only date
    ("Basic Test", "digest is not signed on a POST"),     # POST without digest
])
def test_cavage_appendix_c_fails_the_inbox_rules(name, reason):
    request = cavage_vector_request(printed_signature(cavage_case(name)))
    assert_rejected(verify_request(request, CAVAGE_CLOCK, lookup(CAVAGE["public_key_pem"])), 401, reason)


def test_cavage_appendix_c_all_headers_is_malformed():
    # rsa-sha256 cannot sign (created)/(expires): the vector is inconsistent (see its note).
    case = cavage_case("All Headers Test")
    signature = (f'keyId="Test",algorithm="rsa-sha256",created=1402170695,expires=1402170699,'
                 f'headers="(request-target) (created) (expires) host date content-type digest content-length",'
                 f'signature="{case["signature"]}"')
    assert_rejected(parse_signature(cavage_vector_request(signature), policy=LENIENT), 400, "(created)")


def test_cavage_appendix_c_all_headers_without_pseudo_headers_verifies():
    # The signature does verify over the printed signing string, i.e. without (created)/(expires).
    case = cavage_case("All Headers Test")
    signature = (f'keyId="Test",algorithm="rsa-sha256",'
                 f'headers="(request-target) host date content-type digest content-length",'
                 f'signature="{case["signature"]}"')
    request = cavage_vector_request(signature)
    parsed = parse_signature(request)
    assert isinstance(parsed, ParsedSignature)
    assert parsed.signature_bases[0] == case["signing_string_as_printed"].encode()
    assert isinstance(verify_parsed(parsed, CAVAGE["public_key_pem"], CAVAGE_CLOCK), Verified)


# --------------------------------------------------------------------------------------------
# Rules, draft-cavage
# --------------------------------------------------------------------------------------------


def test_cavage_missing_signature_header_is_401():
    """Unsigned is 401, as Mastodon's "Request not signed" (issue 9, point 11; it was 400)."""
    assert_rejected(verify("POST", INBOX, {"Host": "remote.example", "Date": format_http_date(NOW)}, BODY),
                    401, "not signed")


@pytest.mark.parametrize("algorithm", ["rsa-sha512", "ed25519", "hmac-sha256", "ecdsa-sha256"])
def test_cavage_algorithm_not_allowed(algorithm):
    headers = cavage_with(signed_cavage(), algorithm=algorithm)
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "is not accepted")


@pytest.mark.parametrize("algorithm", ["hs2019", "HS2019", "RSA-SHA256", None])
def test_cavage_allowed_algorithms(algorithm):
    headers = cavage_with(signed_cavage(), algorithm=algorithm)   # None: parameter left out
    result = verify("POST", INBOX, headers, BODY)
    assert isinstance(result, Verified), result


def test_cavage_empty_algorithm_is_400():
    assert_rejected(verify("POST", INBOX, cavage_with(signed_cavage(), algorithm=""), BODY), 400, "algorithm")


def test_cavage_post_digest_must_be_signed():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "date"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "digest is not signed")


def test_cavage_post_tampered_body():
    assert_rejected(verify("POST", INBOX, signed_cavage(), BODY + b" "), 401, "Digest does not match the body")


def test_cavage_post_signed_digest_missing_from_request():
    headers = {k: v for k, v in signed_cavage().items() if k != "Digest"}
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "'digest' is missing")


def test_cavage_post_digest_replaced_with_matching_one_breaks_signature():
    headers = {**signed_cavage(), "Digest": digest_header(b"{}")}
    assert_rejected(verify("POST", INBOX, headers, b"{}"), 401, "does not match the request")


def test_cavage_malformed_digest_is_400():
    headers = resign_cavage("POST", INBOX, {**signed_cavage(), "Digest": "SHA-256=not base64!"},
                            ["(request-target)", "host", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "Digest header cannot be parsed")


def test_cavage_digest_without_supported_algorithm_is_401():
    headers = resign_cavage("POST", INBOX, {**signed_cavage(), "Digest": "MD5=HUXZLQLMuI/KZ5KDcJPcOA=="},
                            ["(request-target)", "host", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "no SHA-256 or SHA-512")


def test_cavage_request_target_must_be_signed():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["host", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "(request-target) is not signed")


def test_cavage_host_must_be_signed():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "host is not signed")


def test_cavage_date_must_be_signed():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "neither date nor (created) is signed")


def test_cavage_unparseable_date_is_400():
    headers = resign_cavage("POST", INBOX, {**signed_cavage(), "Date": "yesterday"},
                            ["(request-target)", "host", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "not an HTTP date")


@pytest.mark.parametrize("age, accepted", [
    (timedelta(0), True),
    (timedelta(minutes=64), True),        # 5 minutes validity + 1 hour clock-skew margin
    (timedelta(minutes=65, seconds=1), False),
    (timedelta(hours=13), False),
    (timedelta(minutes=-59), True),       # signer's clock ahead of ours by less than the margin
    (timedelta(minutes=-61), False),
])
def test_cavage_date_window(age, accepted):
    result = verify("POST", INBOX, signed_cavage(now=NOW - age), BODY)
    if accepted:
        assert isinstance(result, Verified), result
    else:
        assert_rejected(result, 401, "expired" if age > timedelta(0) else "future")


def test_cavage_window_is_configurable():
    tight = TimeWindow(max_age=timedelta(hours=12), default_validity=timedelta(minutes=5), clock_skew=timedelta(0))
    headers = signed_cavage(now=NOW - timedelta(minutes=6))
    assert isinstance(verify("POST", INBOX, headers, BODY), Verified)
    assert_rejected(verify("POST", INBOX, headers, BODY, window=tight), 401, "expired")


def test_cavage_hs2019_created_and_expires():
    created = int((NOW - timedelta(minutes=30)).timestamp())
    base = signed_cavage()
    names = ["(request-target)", "host", "(created)", "(expires)", "digest"]
    fresh = resign_cavage("POST", INBOX, base, names, algorithm="hs2019",
                          extra_params=f"created={created},expires={created + 7200},",
                          pseudo={"(created)": str(created), "(expires)": str(created + 7200)})
    result = verify("POST", INBOX, fresh, BODY)
    assert isinstance(result, Verified) and result.created == NOW - timedelta(minutes=30), result
    stale = resign_cavage("POST", INBOX, base, names, algorithm="hs2019",
                          extra_params=f"created={created - 7200},expires={created - 3700},",
                          pseudo={"(created)": str(created - 7200), "(expires)": str(created - 3700)})
    assert_rejected(verify("POST", INBOX, stale, BODY), 401, "expired")


def test_cavage_expires_in_the_past_beyond_the_margin():
    created = int((NOW - timedelta(hours=2)).timestamp())
    names = ["(request-target)", "host", "date", "(expires)", "digest"]
    headers = resign_cavage("POST", INBOX, signed_cavage(), names, algorithm="hs2019",
                            extra_params=f"expires={created},", pseudo={"(expires)": str(created)})
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "expired")


def test_cavage_created_with_rsa_sha256_is_400():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "(created)", "digest"],
                            extra_params="created=1,", pseudo={"(created)": "1"})
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "(created) cannot be used with rsa-sha256")


def test_cavage_signed_created_without_parameter_is_400():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "(created)", "digest"],
                            algorithm="hs2019", pseudo={"(created)": "1"})
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "created parameter is missing")


def test_cavage_unsigned_created_parameter_is_ignored():
    # Replaying an old request with a fresh, unsigned `created` must not pass the window.
    old = signed_cavage(now=NOW - timedelta(hours=3))
    params = old["Signature"].replace('algorithm="rsa-sha256"', f'algorithm="hs2019",created={int(NOW.timestamp())}')
    assert_rejected(verify("POST", INBOX, {**old, "Signature": params}, BODY), 401, "expired")


@pytest.mark.parametrize("header, value", [("Host", "other.example"), ("Date", "Sat, 14 Mar 2026 15:09:27 GMT")])
def test_cavage_tampered_signed_header(header, value):
    headers = {**signed_cavage(), header: value}
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "does not match the request")


def test_cavage_tampered_method_and_path():
    headers = signed_cavage()
    assert_rejected(verify("PUT", INBOX, headers, BODY), 401, "does not match the request")
    assert_rejected(verify("POST", INBOX + "2", headers, BODY), 401, "does not match the request")


def test_cavage_wrong_key():
    assert_rejected(verify("POST", INBOX, signed_cavage(), BODY, pem=OTHER_PUBLIC_PEM), 401, "does not match")


def test_cavage_truncated_signature():
    headers = signed_cavage()
    signature = base64.b64decode(re.search(r'signature="([^"]+)"', headers["Signature"]).group(1))
    truncated = base64.b64encode(signature[:-16]).decode()
    assert_rejected(verify("POST", INBOX, cavage_with(headers, signature=truncated), BODY), 401, "does not match")


def test_cavage_header_signed_twice():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "date", "date", "digest"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "signed twice")


def test_cavage_signed_header_missing_from_request():
    headers = resign_cavage("POST", INBOX, signed_cavage(), ["(request-target)", "host", "date", "digest", "content-type"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "'content-type' is missing")


def test_cavage_malformed_base64_signature_is_400():
    headers = cavage_with(signed_cavage(), signature="not*base64")
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "not valid base64")


@pytest.mark.parametrize("removed", ["keyId", "signature"])
def test_cavage_missing_key_id_or_signature_is_400(removed):
    headers = cavage_with(signed_cavage(), **{removed: None})
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "has no")


@pytest.mark.parametrize("garbage", ["", "garbage", "=", '"', "keyId=", 'keyId="a', 'keyId="a",keyId="b"',
                                     "Signature keyId=\"x\"", "ключ=\"значение\"", "keyId=\"a\";headers=\"b\""])
def test_cavage_garbage_signature_header_is_400(garbage):
    headers = {**signed_cavage(), "Signature": garbage}
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "")


def test_cavage_key_lookup_gets_the_key_id_and_unknown_key_is_401():
    find = lookup(None)
    result = verify_request(incoming("POST", INBOX, signed_cavage(), BODY), NOW, find)
    assert_rejected(result, 401, "unknown key")
    assert find.asked == [KEY_ID]


def test_no_key_is_fetched_for_a_request_that_fails_before_the_signature():
    find = lookup()
    stale = signed_cavage(now=NOW - timedelta(days=1))
    assert isinstance(verify_request(incoming("POST", INBOX, stale, BODY), NOW, find), Rejected)
    assert isinstance(verify_request(incoming("POST", INBOX, signed_cavage(), BODY + b"x"), NOW, find), Rejected)
    assert find.asked == []


def test_unusable_public_key_is_401():
    parsed = parse_signature(incoming("POST", INBOX, signed_cavage(), BODY))
    assert isinstance(parsed, ParsedSignature)
    assert_rejected(verify_parsed(parsed, "not a key", NOW), 401, "cannot be parsed")


def test_repeated_header_fields_are_joined_like_http_says():
    url = "https://remote.example/users/alice"
    signing = {"Host": "remote.example", "Accept": "application/activity+json, application/ld+json"}
    headers = {**signing, **sign_headers("GET", url, signing, b"", KEY_ID, PRIVATE_PEM, NOW)}
    fields = [(k, v) for k, v in headers.items() if k != "Accept"]
    fields += [("Accept", "application/activity+json"), ("Accept", "application/ld+json")]
    request = IncomingRequest("GET", "/users/alice", httpx.Headers(fields))
    assert isinstance(verify_request(request, NOW, lookup()), Verified)


# --------------------------------------------------------------------------------------------
# Every draft-cavage spec vector at the inbox: what verify_request (the inbox rules) makes of it
# --------------------------------------------------------------------------------------------

# name → (None, algorithm) when it verifies, else (status, reason), with the vector's own key and clock.
# Most vectors cover fewer components than an inbox demands, so they are refused for that.
CAVAGE_EXPECTED: dict[str, tuple[int | None, str]] = {
    "Default Test": (401, "(request-target) is not signed"),          # signs only date
    "Basic Test": (401, "digest is not signed on a POST"),
    "All Headers Test": (400, "(created) cannot be used with rsa-sha256"),   # the vector is inconsistent
}


def test_every_cavage_vector_has_an_expectation():
    assert [case["name"] for case in CAVAGE["cases"]] == list(CAVAGE_EXPECTED)


@pytest.mark.parametrize("case", CAVAGE["cases"], ids=lambda case: f"cavage-{case['name']}")
def test_every_cavage_vector_at_the_inbox(case):
    request = cavage_vector_request(printed_signature(case))
    status, detail = CAVAGE_EXPECTED[case["name"]]
    result = verify_request(request, CAVAGE_CLOCK, lookup(CAVAGE["public_key_pem"]))
    if status is None:
        assert isinstance(result, Verified) and result.algorithm == detail, result
    else:
        assert isinstance(result, Rejected) and (result.status, result.reason) == (status, detail), result
