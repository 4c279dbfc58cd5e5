"""Body digests (``signatures/digest.py``): `Digest` and `Content-Digest` checked against the body."""
from __future__ import annotations

from linkblog.federation.signatures.digest import (DigestStatus, check_decoded_digests, check_digest,
                                                   content_digest_header, digest_header)

from tests.federation.signatures.signing import BODY


# --------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------


def test_digest_checks():
    sha256 = digest_header(BODY)
    sha512 = "SHA-512=" + content_digest_header(BODY, "sha-512").split("=", 1)[1].strip(":")
    assert check_digest(sha256, BODY) is DigestStatus.MATCH
    assert check_digest(f"{sha256}, {sha512}", BODY) is DigestStatus.MATCH
    assert check_digest(f"{sha256}, SHA-512=" + "A" * 88, BODY) is DigestStatus.MISMATCH
    assert check_digest(sha256.lower().replace("sha-256=", "sha-256=", 1), BODY) is DigestStatus.MISMATCH
    assert check_digest("MD5=HUXZLQLMuI/KZ5KDcJPcOA==", BODY) is DigestStatus.UNSUPPORTED
    assert check_digest("SHA-256", BODY) is DigestStatus.MALFORMED
    assert check_digest(f"{sha256},{sha256}", BODY) is DigestStatus.MALFORMED


def test_decoded_digest_checks():
    assert check_decoded_digests({}, BODY) is DigestStatus.UNSUPPORTED
    assert check_decoded_digests({"sha-256": b"\0" * 32}, BODY) is DigestStatus.MISMATCH
