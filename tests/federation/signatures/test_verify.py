"""The verifier (``signatures/verify.py``) never raises: damaged requests and odd clocks still give a


result."""
from __future__ import annotations

import random
from datetime import timedelta, timezone

from linkblog.federation.signatures import Rejected, Verified

from tests.federation.signatures.signing import BODY, INBOX, NOW, signed_cavage, signed_rfc9421, verify


# --------------------------------------------------------------------------------------------
# Never raise
# --------------------------------------------------------------------------------------------


def test_mutated_requests_always_give_a_result():
    """Random byte-level damage to signed headers: always a result, never an exception."""
    rng = random.Random(20260314)
    alphabet = '"=,;:()?*@-_ \t\\' + "abcdefghijklmnopqrstuvwxyzA0123456789+/é\x00"
    sources = [signed_cavage(), signed_rfc9421(), signed_cavage("GET", INBOX + "?q=1", b"")]
    outcomes: set[type] = set()
    for round_number in range(600):
        headers = dict(rng.choice(sources))
        name = rng.choice([n for n in headers if n in ("Signature", "Signature-Input", "Digest",
                                                       "Content-Digest", "Date", "Host")])
        value = list(headers[name])
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            position = rng.randrange(len(value) + 1)
            if action < 0.4 and value:
                del value[min(position, len(value) - 1)]
            elif action < 0.8:
                value.insert(position, rng.choice(alphabet))
            else:
                value = value[:position]
        headers[name] = "".join(value)
        result = verify("POST", INBOX, headers, BODY)
        assert isinstance(result, (Verified, Rejected)), round_number
        if isinstance(result, Rejected):
            assert result.status in (400, 401) and result.reason
        outcomes.add(type(result))
    assert Rejected in outcomes


def test_non_utc_and_naive_clocks_are_handled():
    headers = signed_cavage(now=NOW.astimezone(timezone(timedelta(hours=-7))))
    assert isinstance(verify("POST", INBOX, headers, BODY, now=NOW.replace(tzinfo=None)), Verified)
