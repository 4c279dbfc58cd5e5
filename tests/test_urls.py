"""URL normalisation (``linkblog/urls.py``): one address per page, and everything else refused.

Every rule of ``normalise_url`` has its own rows below (the id names the rule), so dropping or weakening any
one of them fails a row: that was checked by mutating each rule in turn."""
from __future__ import annotations

import pytest

from linkblog.models import URL_MAX
from linkblog.urls import InvalidURL, display_host, host_of, normalise_url

# (rule, raw, expected)
KEPT = [
    ("scheme lower-cased", "HTTPS://example.com/", "https://example.com/"),
    ("host lower-cased, path case kept", "https://Example.COM/Path", "https://example.com/Path"),
    ("surrounding whitespace trimmed", "  https://example.com/trim \n", "https://example.com/trim"),
    ("https:// added to a bare host and path", "example.com/no-scheme", "https://example.com/no-scheme"),
    ("https:// added to a bare host and port", "Example.org:8080", "https://example.org:8080/"),
    ("trailing dot of the host dropped", "https://example.com./x", "https://example.com/x"),
    ("trailing dot dropped before the port", "https://example.com.:8443/", "https://example.com:8443/"),
    ("default http port dropped", "http://example.com:80/", "http://example.com/"),
    ("default https port dropped", "https://example.com:443/x", "https://example.com/x"),
    ("another port kept", "https://example.com:8443/x", "https://example.com:8443/x"),
    ("the other scheme's default port kept", "http://example.com:443/", "http://example.com:443/"),
    ("fragment dropped", "https://example.com/a#section", "https://example.com/a"),
    ("empty path becomes /", "https://example.com", "https://example.com/"),
    ("empty path before a query becomes /", "https://example.com?id=1", "https://example.com/?id=1"),
    ("path percent-encoded", "https://example.com/ä", "https://example.com/%C3%A4"),
    ("existing escapes and sub-delimiters kept", "https://example.com/a%2Fb;c=d,e", "https://example.com/a%2Fb;c=d,e"),
    ("tracking names dropped", "https://example.com/?fbclid=a&id=7&gclid=b&si=c", "https://example.com/?id=7"),
    ("tracking names dropped whatever their case", "https://example.com/?FBCLID=a&id=7&Gclid=b",
     "https://example.com/?id=7"),
    ("utm_, pk_ and mtm_ parameters dropped", "https://example.com/?utm_source=rss&pk_campaign=x&mtm_kwd=y&id=7",
     "https://example.com/?id=7"),
    ("utm_ prefix dropped whatever its case", "https://example.com/?UTM_Source=rss&id=7", "https://example.com/?id=7"),
    ("pk_ and mtm_ prefixes dropped whatever their case", "https://example.com/?PK_x=1&Mtm_y=2&id=7",
     "https://example.com/?id=7"),
    ("look-alike names kept", "https://example.com/?utmost=1&sid=2&ref=3&pk=4",
     "https://example.com/?utmost=1&sid=2&ref=3&pk=4"),
    ("query order and blank values kept", "https://example.com/a?b=1&a=2&c=", "https://example.com/a?b=1&a=2&c="),
    ("international host in ASCII", "https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("UTS 46 non-transitional: ß is kept, not fass.de", "https://faß.de/x", "https://xn--fa-hia.de/x"),
    ("UTS 46 mapping folds full-width letters", "https://ＥＸＡＭＰＬＥ.com/", "https://example.com/"),
    ("UTS 46 mapping lower-cases international hosts", "https://BÜCHER.example/", "https://xn--bcher-kva.example/"),
    ("valid A-label kept", "https://XN--BCHER-KVA.example/", "https://xn--bcher-kva.example/"),
    ("IPv6 literal bracketed, default port dropped", "https://[2001:DB8::A]:443/x", "https://[2001:db8::a]/x"),
    ("IPv4 literal kept", "http://192.0.2.1:8080/", "http://192.0.2.1:8080/"),
]
# (rule, raw, what the message says: each rule has its own, so one rule cannot hide behind another)
REFUSED = [
    ("empty", "", "Enter the address"),
    ("only whitespace", "   ", "Enter the address"),
    ("space inside", "https://exa mple.com", "spaces or control characters"),
    ("control character inside", "https://example.com/\x00", "spaces or control characters"),
    ("tab inside", "https://example.com/a\tb", "spaces or control characters"),
    ("longer than URL_MAX as typed", "https://example.com/" + "a" * URL_MAX, "longer than"),
    ("longer than URL_MAX as typed, even if what is kept is short",
     "https://example.com/?utm_source=" + "a" * URL_MAX, "longer than"),
    ("longer than URL_MAX once encoded", "https://example.com/" + "ä" * 1000, "longer than"),
    ("port out of range", "https://example.com:99999/", "check the host and port"),
    ("port not a number", "https://example.com:http/", "check the host and port"),
    ("mailto", "mailto:a@b.c", "Only http:// and https://"),
    ("javascript", "javascript:alert(1)", "Only http:// and https://"),
    ("data", "data:text/html,x", "Only http:// and https://"),
    ("ftp", "ftp://example.com/file", "Only http:// and https://"),
    ("no host", "https://", "no valid host name"),
    ("no host before the path", "https:///path", "no valid host name"),
    ("a dot for a host", "https://./", "no valid host name"),
    ("host starting with a dot", "https://.example.com/", "no valid host name"),
    ("empty label", "https://a..b/", "no valid host name"),
    ("user and password", "https://user:pw@example.com/", "user name or password"),
    ("user name alone", "https://user@example.com/", "user name or password"),
    ("a joiner no script needs (would merge with ab.example)", "https://a\u200db.example/", "host name is not valid"),
    ("invalid A-label", "https://xn--zz.example/", "host name is not valid"),
    ("no scheme added to a word without a dot", "localhost/x", "Only http:// and https://"),
]


@pytest.mark.parametrize("raw, expected", [(raw, expected) for _, raw, expected in KEPT],
                         ids=[rule for rule, _, _ in KEPT])
def test_normalise(raw, expected):
    assert normalise_url(raw) == expected


@pytest.mark.parametrize("raw, message", [(raw, message) for _, raw, message in REFUSED],
                         ids=[rule for rule, _, _ in REFUSED])
def test_refused(raw, message):
    with pytest.raises(InvalidURL, match=message):
        normalise_url(raw)


def test_a_joined_host_never_merges_with_the_plain_one():
    assert normalise_url("https://ab.example/") == "https://ab.example/"
    with pytest.raises(InvalidURL, match="not valid"):
        normalise_url("https://a\u200db.example/")


def test_normalising_twice_changes_nothing():
    for _, _, expected in KEPT:
        assert normalise_url(expected) == expected


@pytest.mark.parametrize("url, host", [
    ("https://faß.de/x", "xn--fa-hia.de"),
    ("https://xn--fa-hia.de/y", "xn--fa-hia.de"),
    ("https://FAß.de:8443/x", "xn--fa-hia.de:8443"),
    ("https://Example.COM:8443/", "example.com:8443"),
    (None, ""),
])
def test_host_of_compares_hosts_as_browsers_see_them(url, host):
    assert host_of(url) == host


@pytest.mark.parametrize("url, shown", [
    ("https://www.example.com/", "example.com"),
    ("https://xn--bcher-kva.example/", "bücher.example"),
    ("https://bücher.example/", "bücher.example"),
    ("https://xn--fa-hia.de/", "faß.de"),
    ("https://аррӏе.com/", "xn--80ak6aa92e.com"),                       # all-Cyrillic look-alike of apple
    ("https://xn--pypal-4ve.com/", "xn--pypal-4ve.com"),                 # Latin with one Cyrillic а
    ("https://a\u200db.example/", "a\\u200db.example"),                  # invalid: escaped, never shown as is
])
def test_display_host_never_shows_a_spoofable_name(url, shown):
    assert display_host(url) == shown
