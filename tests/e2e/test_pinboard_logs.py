"""A Pinboard app's token travels in the query string (``/v1/...?auth_token=user:TOKEN``): a real `linkblog
serve` (gunicorn's access log on, as always) must never write a /v1/ query string anywhere, while still
logging the request itself."""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.support.live import Instance

pytestmark = pytest.mark.slow  # a real `linkblog serve`


def test_no_v1_query_string_reaches_any_log(tmp_path):
    site = Instance(tmp_path / "site").init()
    token = site.cli("token", "create", "phone", "--pinboard").stdout.strip().splitlines()[-1]
    user, _, secret = token.partition(":")
    assert user == site.username and secret.startswith("lb_")
    site.start()
    try:
        for method, params in (("posts/recent", {}), ("posts/add", {"url": "https://example.org/logged",
                                                                    "description": "Logged"}),
                               ("posts/get", {"url": "https://example.org/logged", "format": "json"})):
            query = urlencode({"auth_token": token, **params})
            with urllib.request.urlopen(f"{site.base_url}/v1/{method}?{query}", timeout=10) as response:
                assert response.status == 200
                body = response.read().decode()
        assert '"href": "https://example.org/logged"' in body
        with urllib.request.urlopen(f"{site.base_url}/?{urlencode({'q': 'kept'})}", timeout=10) as response:
            assert response.status == 200
        for mistaken in ("/api/bookmarks", "/v1"):  # refused (401), or redirected to /v1/ (no method: 404)
            try:
                urllib.request.urlopen(f"{site.base_url}{mistaken}?{urlencode({'auth_token': token})}", timeout=10)
            except urllib.error.HTTPError as exc:
                assert exc.code in (401, 404), mistaken
    finally:
        site.stop()
    log = site.log()
    assert "GET /v1/posts/recent " in log and "GET /v1/posts/add " in log, log  # the requests are logged ...
    assert "GET /?q=kept " in log, log  # ... and other query strings are left as they were ...
    assert "GET /api/bookmarks?auth_token=[redacted] " in log, log  # ... but for a token sent elsewhere
    for path in site.directory.rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm"):
            text = path.read_text(errors="replace")
            assert secret not in text, path
            assert set(re.findall(r"auth_token=([^&\s\"]*)", text)) <= {"[redacted]"}, path
