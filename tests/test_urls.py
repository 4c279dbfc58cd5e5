"""URL normalisation (``linkblog/urls.py``): one address per page, and everything else refused."""
from __future__ import annotations

import pytest

from linkblog.urls import InvalidURL, normalise_url


@pytest.mark.parametrize("raw, expected", [
    ("HTTPS://Example.COM/Path", "https://example.com/Path"),
    ("http://example.com:80/", "http://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/a#section", "https://example.com/a"),
    ("https://example.com/?utm_source=rss&utm_campaign=x&id=7&fbclid=abc", "https://example.com/?id=7"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a?b=1&a=2", "https://example.com/a?b=1&a=2"),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x"),
    ("  https://example.com/trim  ", "https://example.com/trim"),
    ("example.com/no-scheme", "https://example.com/no-scheme"),
])
def test_normalise(raw, expected):
    assert normalise_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "mailto:a@b.c", "javascript:alert(1)", "data:text/html,x", "https://",
                                 "https://user:pw@example.com/", "https://exa mple.com", "https://a..b/",
                                 "https://example.com:99999/", "https://example.com/\x00"])
def test_refused(raw):
    with pytest.raises(InvalidURL):
        normalise_url(raw)
