"""Pure functions: URL normalisation, Markdown sanitising, text fragments, tag names."""
from __future__ import annotations

import pytest

from linkblog.markup import first_line, render_markdown, text_fragment_url
from linkblog.tags import InvalidTag, parse_tags
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


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown("# Big\n\n**bold** <script>x()</script> [a](javascript:x()) [b](https://ok.example)")
    assert "<h2>Big</h2>" in html  # an item's headings sit below the page's h1
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and 'href="javascript' not in html
    assert '<a href="https://ok.example" rel="noopener nofollow ugc">b</a>' in html
    assert render_markdown("   ") == ""


def test_first_line_skips_markup_and_blank_lines():
    assert first_line("\n\n## Heading here\nmore") == "Heading here"
    assert first_line("x" * 300).endswith("…") and len(first_line("x" * 300)) == 200


def test_text_fragment_escapes_and_shortens_long_quotes():
    assert text_fragment_url("https://e.example/a#old", "a-b, c&d") == "https://e.example/a#:~:text=a%2Db%2C%20c%26d"
    long = text_fragment_url("https://e.example/", "one two three four five six seven eight nine ten")
    assert long == "https://e.example/#:~:text=one%20two%20three%20four,seven%20eight%20nine%20ten"
    assert text_fragment_url("https://e.example/", "  ") == "https://e.example/"


def test_tags_parse_and_validate():
    assert parse_tags("Python, web  #IndieWeb python") == ["python", "web", "indieweb"]
    assert parse_tags(["a", "b-c", "d_e", "c++"]) == ["a", "b-c", "d_e", "c++"]
    for bad in (["two words"], ["bad\x01"], ["x" * 65], ["a/b"], [""], [3]):
        with pytest.raises(InvalidTag):
            parse_tags(bad)
