"""RFC 9421 message signatures (``signatures/rfc9421.py``): the RFC's vectors and each verification rule on


its own."""
from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from linkblog.dates import format_http_date
from linkblog.federation.signatures import (MASTODON_WINDOW, IncomingRequest, ParsedSignature, Rejected, TimeWindow,
                                            Verified,
                                            parse_signature, verify_parsed, verify_request)
from linkblog.federation.signatures.digest import content_digest_header

from tests.federation.signatures.signing import (BODY, INBOX, LENIENT, NOW, OTHER_PRIVATE_PEM, OTHER_PUBLIC_PEM,
                                                 PUBLIC_PEM, RFC9421, assert_rejected, incoming, lookup, parse_message,
                                                 signed_cavage, signed_rfc9421, vector_request, verify)


# --------------------------------------------------------------------------------------------
# Vectors: RFC 9421
# --------------------------------------------------------------------------------------------


def rfc_case(section: str) -> dict:
    return next(case for case in RFC9421["cases"] if case["section"].startswith(section))


def rfc_key(name: str) -> str:
    return RFC9421["keys"][name]["public_key_pem"]


def rfc_signed_request(case: dict) -> IncomingRequest:
    """The vector's signed message, or its base message with the vector's signature added."""
    if "signed_message" in case:
        return vector_request(case["signed_message"])
    method, target, fields, body = parse_message(RFC9421["messages"][case["message"]])
    fields += [("Signature-Input", case["signature_input"]), ("Signature", case["signature"])]
    return IncomingRequest(method, target, httpx.Headers(fields), body)


def rfc_clock(case: dict) -> datetime:
    created = re.search(r"created=(\d+)", case["signature_input"]).group(1)
    return datetime.fromtimestamp(int(created), tz=timezone.utc)


@pytest.mark.parametrize("section", ["RFC 9421 Appendix B.2.3", "RFC 9421 Section 3.2"])
def test_rfc9421_rsa_pss_vectors_pass_the_inbox_rules(section):
    case = rfc_case(section)
    request = rfc_signed_request(case)
    parsed = parse_signature(request)
    assert isinstance(parsed, ParsedSignature), parsed
    assert parsed.signature_bases == (case["signature_base"].encode(),)
    result = verify_parsed(parsed, rfc_key(case["keyid"]), rfc_clock(case))
    assert isinstance(result, Verified), result
    assert (result.scheme, result.algorithm, result.key_id) == ("rfc9421", "rsa-pss-sha512", "test-key-rsa-pss")


def test_rfc9421_rsa_v1_5_vector_from_multiple_signatures():
    case = rfc_case("RFC 9421 Section 4.3")
    method, target, fields, _ = parse_message(case["final_message"])
    # The transcription has an extra blank line before the body; the body is the test request's.
    body = parse_message(RFC9421["messages"]["test-request"])[3]
    request = IncomingRequest(method, target, httpx.Headers(fields), body)
    proxy = next(s for s in case["signatures"] if s["label"] == "proxy_sig")
    parsed = parse_signature(request)   # picks the signature that declares an RSA alg
    assert isinstance(parsed, ParsedSignature), parsed
    assert parsed.label == "proxy_sig"
    assert parsed.signature_bases == (proxy["signature_base"].encode(),)
    clock = datetime.fromtimestamp(1618884480, tz=timezone.utc)
    result = verify_parsed(parsed, rfc_key("test-key-rsa"), clock)
    assert isinstance(result, Verified) and result.algorithm == "rsa-v1_5-sha256"
    # The same signature is past its expires (1618884540) plus the clock-skew margin an hour later.
    late = clock + timedelta(seconds=60) + MASTODON_WINDOW.clock_skew + timedelta(seconds=1)
    assert_rejected(verify_parsed(parsed, rfc_key("test-key-rsa"), late), 401, "expired")


def test_rfc9421_ecdsa_signature_is_refused_for_its_key_type():
    case = rfc_case("RFC 9421 Section 4.3")
    parsed = parse_signature(vector_request(case["client_message"]), label="sig1")
    assert isinstance(parsed, ParsedSignature) and parsed.key_id == "test-key-ecc-p256"
    client = next(s for s in case["signatures"] if s["label"] == "sig1")
    assert parsed.signature_bases == (client["signature_base"].encode(),)
    clock = datetime.fromtimestamp(1618884475, tz=timezone.utc)
    assert_rejected(verify_parsed(parsed, rfc_key("test-key-ecc-p256"), clock), 401, "not an RSA key")


@pytest.mark.parametrize("section, reason", [
    ("RFC 9421 Appendix B.2.1", "@method and @target-uri"),     # covers nothing
    ("RFC 9421 Appendix B.2.5", "@method and @target-uri"),     # hmac, no @method
    ("RFC 9421 Appendix B.2.6", "content-digest is not signed"),
    ("RFC 9421 Appendix B.3", "content-digest is not signed"),
])
def test_rfc9421_vectors_that_fail_the_inbox_rules(section, reason):
    case = rfc_case(section)
    find = lookup()
    assert_rejected(verify_request(rfc_signed_request(case), rfc_clock(case), find), 401, reason)
    assert find.asked == []   # refused before any key fetch


@pytest.mark.parametrize("section", ["RFC 9421 Appendix B.2.1", "RFC 9421 Appendix B.2.5",
                                     "RFC 9421 Appendix B.2.6", "RFC 9421 Appendix B.3"])
def test_rfc9421_signature_bases_are_rebuilt_exactly(section):
    case = rfc_case(section)
    parsed = parse_signature(rfc_signed_request(case), policy=LENIENT)
    assert isinstance(parsed, ParsedSignature), parsed
    assert parsed.signature_bases == (case["signature_base"].encode(),)


def test_rfc9421_minimal_rsa_pss_vector_verifies_without_inbox_rules():
    case = rfc_case("RFC 9421 Appendix B.2.1")
    parsed = parse_signature(rfc_signed_request(case), policy=LENIENT)
    assert isinstance(parsed, ParsedSignature)
    assert isinstance(verify_parsed(parsed, rfc_key("test-key-rsa-pss"), rfc_clock(case)), Verified)


def test_rfc9421_non_rsa_vectors_are_refused_at_verification():
    for section in ("RFC 9421 Appendix B.2.6", "RFC 9421 Appendix B.3"):
        case = rfc_case(section)
        parsed = parse_signature(rfc_signed_request(case), policy=LENIENT)
        assert isinstance(parsed, ParsedSignature)
        assert_rejected(verify_parsed(parsed, rfc_key(case["keyid"]), rfc_clock(case)), 401, "not an RSA key")


def test_rfc9421_query_param_component_is_not_supported():
    case = rfc_case("RFC 9421 Appendix B.2.2")   # covers "@query-param";name="Pet"
    assert_rejected(parse_signature(rfc_signed_request(case), policy=LENIENT), 401, "component parameters")


def test_rfc9421_transformations_change_the_base_only_when_covered():
    case = rfc_case("RFC 9421 Appendix B.4")
    original = parse_signature(rfc_signed_request(case))
    assert isinstance(original, ParsedSignature)
    assert original.signature_bases == (case["signature_base"].encode(),)
    for transformed in case["transformed_messages"]:
        # LENIENT: one transformation turns the GET into a POST, which the inbox rules refuse early.
        parsed = parse_signature(vector_request(transformed["message"]), policy=LENIENT)
        assert isinstance(parsed, ParsedSignature)
        assert (parsed.signature_bases == original.signature_bases) is transformed["signature_still_valid"], \
            transformed["change"]


def test_rfc9421_content_digest_vector_values_match_our_digest():
    body = parse_message(RFC9421["messages"]["test-request"])[3]
    fields = dict(parse_message(RFC9421["messages"]["test-request"])[2])
    assert content_digest_header(body, "sha-512") == fields["Content-Digest"]


# --------------------------------------------------------------------------------------------
# Rules, RFC 9421
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ed25519", "hmac-sha256", "ecdsa-p256-sha256", "rsa-sha256"])
def test_rfc9421_alg_not_allowed(alg):
    assert_rejected(verify("POST", INBOX, signed_rfc9421(alg=alg), BODY), 401, "is not accepted")


def test_rfc9421_alg_must_be_a_string():
    headers = signed_rfc9421()
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="rsa-v1_5-sha256"', "alg=rsa-v1_5-sha256")
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "alg parameter is not a string")


def test_rfc9421_post_content_digest_must_be_covered():
    headers = signed_rfc9421(components=("@method", "@target-uri"))
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "content-digest is not signed")


def test_rfc9421_tampered_body():
    assert_rejected(verify("POST", INBOX, signed_rfc9421(), BODY + b"\n"), 401, "Content-Digest does not match")


def test_rfc9421_malformed_content_digest_is_400():
    headers = signed_rfc9421(extra_headers={"Content-Digest": "sha-256=not-bytes"})
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "Content-Digest header cannot be parsed")


def test_rfc9421_content_digest_without_supported_algorithm_is_401():
    headers = signed_rfc9421(extra_headers={"Content-Digest": "md5=:HUXZLQLMuI/KZ5KDcJPcOA==:"})
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "no SHA-256 or SHA-512")


@pytest.mark.parametrize("components", [
    ("@target-uri", "content-digest"),                       # no @method
    ("@method", "@authority", "content-digest"),             # no target
])
def test_rfc9421_method_and_target_must_be_covered(components):
    assert_rejected(verify("POST", INBOX, signed_rfc9421(components=components), BODY), 401, "@method and @target-uri")


def test_rfc9421_authority_must_be_covered():
    headers = signed_rfc9421(components=("@method", "@path", "content-digest"))
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "@authority")


def test_rfc9421_created_is_required():
    assert_rejected(verify("POST", INBOX, signed_rfc9421(created=None), BODY), 401, "created parameter is missing")


@pytest.mark.parametrize("created_offset, expires_offset, accepted, reason", [
    (timedelta(minutes=-64), None, True, ""),
    (timedelta(minutes=-66), None, False, "expired"),
    (timedelta(hours=-11), timedelta(hours=1), True, ""),             # long expires is honoured ...
    (timedelta(hours=-13, minutes=-1), timedelta(hours=1), False, "expired"),   # ... up to 12 h (+ margin)
    (timedelta(minutes=-10), timedelta(minutes=-61), False, "expired"),         # expires in the past
    (timedelta(minutes=61), None, False, "future"),
])
def test_rfc9421_time_window(created_offset, expires_offset, accepted, reason):
    created = int((NOW + created_offset).timestamp())
    expires = int((NOW + expires_offset).timestamp()) if expires_offset is not None else None
    result = verify("POST", INBOX, signed_rfc9421(created=created, expires=expires), BODY)
    if accepted:
        assert isinstance(result, Verified), result
    else:
        assert_rejected(result, 401, reason)


def test_rfc9421_expires_just_past_is_rejected_without_skew_margin():
    created = int((NOW - timedelta(minutes=2)).timestamp())
    headers = signed_rfc9421(created=created, expires=int(NOW.timestamp()) - 1)
    no_margin = TimeWindow(clock_skew=timedelta(0))
    assert isinstance(verify("POST", INBOX, headers, BODY), Verified)
    assert_rejected(verify("POST", INBOX, headers, BODY, window=no_margin), 401, "expired")


def test_rfc9421_created_not_an_integer_is_400():
    headers = signed_rfc9421()
    headers["Signature-Input"] = re.sub(r"created=\d+", 'created="yesterday"', headers["Signature-Input"])
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "created parameter is not an integer")


def test_rfc9421_tampered_covered_header():
    headers = signed_rfc9421(components=("@method", "@target-uri", "content-digest", "date"))
    headers["Date"] = format_http_date(NOW + timedelta(seconds=1))
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "does not match the request")


def test_rfc9421_tampered_target():
    headers = signed_rfc9421()
    assert_rejected(verify("POST", INBOX + "?evil=1", headers, BODY), 401, "does not match")
    assert_rejected(verify("POST", INBOX, {**headers, "Host": "evil.example"}, BODY), 401, "does not match")


def test_rfc9421_tampered_signature_params():
    headers = signed_rfc9421()
    headers["Signature-Input"] += ';nonce="added"'
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "does not match")


def test_rfc9421_wrong_key():
    assert_rejected(verify("POST", INBOX, signed_rfc9421(), BODY, pem=OTHER_PUBLIC_PEM), 401, "does not match")


def test_rfc9421_truncated_signature():
    headers = signed_rfc9421()
    signature = base64.b64decode(headers["Signature"][len("sig1=:"):-1])
    headers["Signature"] = "sig1=:" + base64.b64encode(signature[:128]).decode() + ":"
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "does not match")


def test_rfc9421_component_signed_twice():
    headers = signed_rfc9421(components=("@method", "@target-uri", "content-digest", "@method"))
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "signed twice")


def test_rfc9421_covered_header_missing_from_request():
    headers = signed_rfc9421(components=("@method", "@target-uri", "content-digest", "x-extra"),
                             extra_headers={"X-Extra": "1"})
    del headers["X-Extra"]
    assert_rejected(verify("POST", INBOX, headers, BODY), 401, "'x-extra' is missing")


def test_rfc9421_uppercase_component_is_400():
    headers = signed_rfc9421(components=("@method", "@target-uri", "content-digest", "Date"),
                             extra_headers={"date": format_http_date(NOW)})
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "not lowercase")


def test_rfc9421_signature_input_without_signature_is_400():
    headers = signed_rfc9421()
    del headers["Signature"]
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "without Signature")


def test_rfc9421_label_mismatch_is_400():
    headers = signed_rfc9421()
    headers["Signature"] = headers["Signature"].replace("sig1=", "sig2=")
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "no byte sequence for sig1")


def test_rfc9421_missing_keyid_is_400():
    assert_rejected(verify("POST", INBOX, signed_rfc9421(keyid=None), BODY), 400, "no keyid")


def test_rfc9421_malformed_base64_is_400():
    headers = signed_rfc9421()
    headers["Signature"] = "sig1=:not*base64:"
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "not a valid structured field")


def test_rfc9421_signature_must_be_a_byte_sequence():
    headers = signed_rfc9421()
    headers["Signature"] = 'sig1="c2lnbmF0dXJl"'
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "no byte sequence")


@pytest.mark.parametrize("signature_input", [
    "", "sig1", "sig1=", "sig1=(", 'sig1=("@method"', "Sig1=()", "sig1=(@method)", "sig1=();created=1,",
    'sig1=("@method" "@target-uri")x', "sig1=();created=99999999999999999", "sig1=(1 2)", "sig1=();keyid=\"\x01\"",
])
def test_rfc9421_garbage_signature_input_is_400(signature_input):
    headers = {**signed_rfc9421(), "Signature-Input": signature_input}
    assert_rejected(verify("POST", INBOX, headers, BODY), 400, "")


def test_rfc9421_explicit_label_selects_the_signature():
    good = signed_rfc9421(label="good")
    bad = signed_rfc9421(label="bad", private_pem=OTHER_PRIVATE_PEM)
    headers = {**good, "Signature-Input": f'{bad["Signature-Input"]}, {good["Signature-Input"]}',
               "Signature": f'{bad["Signature"]}, {good["Signature"]}'}
    request = incoming("POST", INBOX, headers, BODY)
    chosen = parse_signature(request, label="good")
    assert isinstance(chosen, ParsedSignature) and chosen.label == "good"
    assert isinstance(verify_parsed(chosen, PUBLIC_PEM, NOW), Verified)
    first = parse_signature(request)
    assert isinstance(first, ParsedSignature) and first.label == "bad"
    assert_rejected(parse_signature(request, label="missing"), 400, "no signature labelled")


def test_rfc9421_query_outside_the_signature_is_reported():
    url = INBOX + "?page=2"
    covered = signed_rfc9421(url=url, components=("@method", "@authority", "@path", "content-digest"))
    assert isinstance(result := verify("POST", url, covered, BODY), Verified) and result.query_signed is False
    full = signed_rfc9421(url=url, components=("@method", "@authority", "@path", "@query", "content-digest"))
    assert isinstance(result := verify("POST", url, full, BODY), Verified) and result.query_signed is True


def test_rfc9421_get_needs_no_content_digest():
    url = "https://remote.example/users/alice?page=1"
    headers = signed_rfc9421("GET", url, None, components=("@method", "@target-uri"))
    result = verify("GET", url, headers)
    assert isinstance(result, Verified), result


def test_rfc9421_authority_drops_default_port_and_case():
    headers = signed_rfc9421(components=("@method", "@authority", "@path", "content-digest"))
    headers["Host"] = "Remote.Example:443"
    assert isinstance(verify("POST", INBOX, headers, BODY), Verified)


def test_rfc9421_signature_input_wins_over_cavage():
    headers = {**signed_cavage(), "Signature-Input": 'sig1=("@method");created=1;keyid="k"'}
    result = verify("POST", INBOX, headers, BODY)
    assert_rejected(result, 400, "Signature is not a valid structured field")


# --------------------------------------------------------------------------------------------
# Every RFC 9421 spec vector at the inbox: what verify_request (the inbox rules) makes of it
# --------------------------------------------------------------------------------------------

# section → (None, algorithm) when it verifies, else (status, reason), with the vector's own key and clock.
RFC9421_EXPECTED: dict[str, tuple[int | None, str]] = {
    "RFC 9421 Appendix B.2.1": (401, "@method and @target-uri (or @path) are not signed"),   # covers nothing
    "RFC 9421 Appendix B.2.2": (401, "component parameters on '@query-param' are not supported"),
    "RFC 9421 Appendix B.2.3": (None, "rsa-pss-sha512"),
    "RFC 9421 Appendix B.2.4": (401, "@method and @target-uri (or @path) are not signed"),   # signs a response
    "RFC 9421 Appendix B.2.5": (401, "@method and @target-uri (or @path) are not signed"),   # hmac, no @method
    "RFC 9421 Appendix B.2.6": (401, "content-digest is not signed on a POST"),              # ed25519
    "RFC 9421 Appendix B.3": (401, "content-digest is not signed on a POST"),                # a proxy's ecdsa
    "RFC 9421 Appendix B.4": (401, "the actor's key is not an RSA key"),                     # ed25519 on a GET
    "RFC 9421 Section 3.2 (Verifying a Signature, example)": (None, "rsa-pss-sha512"),
    "RFC 9421 Section 4.3 (Multiple Signatures)": (None, "rsa-v1_5-sha256"),                # the proxy's RSA one
}


def rfc9421_vector_at_the_inbox(case: dict) -> tuple[IncomingRequest, datetime, str | None]:
    """The vector's request, the clock it was signed at and the public key its keyid names."""
    if "signatures" in case:   # Section 4.3: the final message, with the test request's body
        method, target, fields, _ = parse_message(case["final_message"])
        body = parse_message(RFC9421["messages"]["test-request"])[3]
        clock = datetime.fromtimestamp(1618884480, tz=timezone.utc)
        return IncomingRequest(method, target, httpx.Headers(fields), body), clock, rfc_key("test-key-rsa")
    return rfc_signed_request(case), rfc_clock(case), RFC9421["keys"][case["keyid"]].get("public_key_pem")


def test_every_rfc9421_vector_has_an_expectation():
    assert [case["section"] for case in RFC9421["cases"]] == list(RFC9421_EXPECTED)


@pytest.mark.parametrize("case", RFC9421["cases"], ids=lambda case: case["section"])
def test_every_rfc9421_vector_at_the_inbox(case):
    request, clock, pem = rfc9421_vector_at_the_inbox(case)
    status, detail = RFC9421_EXPECTED[case["section"]]
    result = verify_request(request, clock, lookup(pem or PUBLIC_PEM))
    if status is None:
        assert isinstance(result, Verified) and result.algorithm == detail, result
    else:
        assert isinstance(result, Rejected) and (result.status, result.reason) == (status, detail), result
