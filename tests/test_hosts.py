"""Host names (``linkblog/hosts.py``): normalised as browsers do (UTS #46, non-transitional), and shown in
Unicode only when no label can pass for another name."""
from __future__ import annotations

import pytest

from linkblog.hosts import InvalidHost, ascii_host_url, display_host, normalise_host


@pytest.mark.parametrize("host, normalised", [
    ("faß.de", "xn--fa-hia.de"),                      # IDNA 2003 made this fass.de: another registrant
    ("FAß.DE", "xn--fa-hia.de"),
    ("σας.example", "xn--mxa8ab.example"),            # final sigma kept (non-transitional) ...
    ("ΣΑΣ.example", "xn--mxa9ab.example"),            # ... so it differs from the plain sigma
    ("ＥＸＡＭＰＬＥ.com", "example.com"),             # full-width letters folded
    ("example。com", "example.com"),                  # ideographic full stop is a dot
    ("bücher.example", "xn--bcher-kva.example"),
    ("Example.COM", "example.com"),
    ("my_host.example", "my_host.example"),           # plain ASCII labels: only lower-cased, as browsers
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("2001:DB8::1", "2001:db8::1"),
    ("192.0.2.1", "192.0.2.1"),
])
def test_normalise_host(host, normalised):
    assert normalise_host(host) == normalised


@pytest.mark.parametrize("host", ["", "a\u200db.example", "a\u200cb.example", "xn--zz.example", "i❤.example",
                                  "1\u0627.example", "a..b.bücher", "xn--bcher-kva-.example"])
def test_invalid_hosts_are_refused_with_a_reason(host):
    with pytest.raises(InvalidHost) as refused:
        normalise_host(host)
    assert str(refused.value)


def test_ascii_host_url_changes_only_the_host():
    assert ascii_host_url("https://faß.de:8443/ä?q=ß#f") == "https://xn--fa-hia.de:8443/ä?q=ß#f"
    assert ascii_host_url("https://example.com/ä") == "https://example.com/ä"
    with pytest.raises(InvalidHost):
        ascii_host_url("https://xn--zz.example/")


# (rule, host, shown)
DISPLAY = [
    ("one script: Latin with accents", "xn--bcher-kva.example", "bücher.example"),
    ("one script: Cyrillic words that are not look-alikes", "xn--e1afmkfd.xn--p1ai", "пример.рф"),
    ("one script: Greek", "xn--hxajbheg2az3al.xn--jxalpdlp", "παράδειγμα.δοκιμή"),
    ("Han with kana (Japanese)", "xn--r8jz45g.xn--zckzah", "例え.テスト"),
    ("Cyrillic mixed into Latin", "xn--pypal-4ve.com", "xn--pypal-4ve.com"),
    ("Greek mixed into Latin", "xn--googl-59d.com", "xn--googl-59d.com"),
    ("all-Cyrillic look-alike of a Latin word", "xn--80ak6aa92e.com", "xn--80ak6aa92e.com"),
    ("all-Greek look-alike of a Latin word", "xn--vxajf.example", "xn--vxajf.example"),
    ("an invisible joiner, even where allowed", "xn--02bd4dw70k.example", "xn--02bd4dw70k.example"),
    ("ASCII hosts as they are", "example.com", "example.com"),
    ("IP literals as they are", "2001:db8::1", "2001:db8::1"),
    ("an invalid host escaped", "a\u200db.example", "a\\u200db.example"),
]


@pytest.mark.parametrize("host, shown", [(h, s) for _, h, s in DISPLAY if s], ids=[r for r, _, s in DISPLAY if s])
def test_display_host(host, shown):
    assert display_host(host) == shown


def test_latin_with_han_and_kana_is_shown_and_a_dotless_i_is_not():
    mixed = normalise_host("abc例え.example")
    assert display_host(mixed) == "abc例え.example"
    dotless = normalise_host("apple.com".replace("a", "ı", 1))
    assert display_host(dotless) == dotless and dotless.startswith("xn--")
