"""WebFinger (``net/webfinger.py``): handles parsed, and the lookup through the guarded client."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from linkblog.federation.net import BadDocument, BadURL, HTTPStatusError, parse_handle

from tests.federation.net.servers import Runner, Server, allow


def test_webfinger_over_http_in_allow_mode(run: Runner, server: Server) -> None:
    handle = f"@alice@127.0.0.1:{server.port}"
    assert run(allow(), "webfinger", handle) == server.base + "/actor/alice"
    wf = [s for s in server.requests if s.path.startswith("/.well-known/webfinger")]
    assert len(wf) == 1
    assert parse_qs(urlsplit(wf[0].path).query)["resource"] == [f"acct:alice@127.0.0.1:{server.port}"]
    assert wf[0].headers["Accept"].startswith("application/jrd+json")


def test_webfinger_unknown_user_and_missing_self_link(run: Runner, server: Server) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        run(allow(), "webfinger", f"bob@127.0.0.1:{server.port}")
    assert caught.value.status == 404
    with pytest.raises(BadDocument):
        run(allow(), "webfinger", f"acct:nolink@127.0.0.1:{server.port}")


@pytest.mark.parametrize("handle, parsed", [("@alice@Example.COM", ("alice", "example.com")),
                                            ("alice@example.com", ("alice", "example.com")),
                                            ("acct:alice@example.com:8443", ("alice", "example.com:8443")),
                                            ("@alice@faß.de", ("alice", "xn--fa-hia.de")),
                                            ("alice@ＥＸＡＭＰＬＥ.com:8443", ("alice", "example.com:8443"))])
def test_parse_handle(handle: str, parsed: tuple[str, str]) -> None:
    assert parse_handle(handle) == parsed


@pytest.mark.parametrize("handle", ["alice", "@alice", "alice@", "@@example.com", "a@b@c", "alice@ex/ample",
                                    "alice@example.com/.well-known", "alice@exa mple.com", "alice@a\u200db.example",
                                    "alice@xn--zz.example"])
def test_parse_handle_refuses_garbage(handle: str) -> None:
    with pytest.raises(BadURL):
        parse_handle(handle)
