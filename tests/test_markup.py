"""Markdown and text (``linkblog/markup.py``): rendered and sanitised, first lines, text fragments."""
from __future__ import annotations

from linkblog.markup import cut_html, first_line, render_markdown, sanitise_remote, tame_html, text_fragment_url


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown("# Big\n\n**bold** <script>x()</script> [a](javascript:x()) [b](https://ok.example)")
    assert "<h3>Big</h3>" in html  # an item's headings sit below the lists' h2 titles
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


def test_remote_html_is_cut_at_characters_and_tags_before_parsing():
    assert cut_html("x" * 50, max_chars=10) == "x" * 10
    html = "<p>a</p><p>b</p><!-- c --><p>d</p>"
    assert cut_html(html, max_tags=4) == "<p>a</p><p>b</p>"
    assert cut_html(html, max_tags=5) == "<p>a</p><p>b</p><!-- c -->"
    assert cut_html("a < b and c <3", max_tags=0) == "a < b and c <3"   # not tags: nothing to cut
    assert cut_html("<a <a <a", max_tags=2) == "<a <a "


def test_formatting_tags_lose_their_attributes_but_links_keep_theirs():
    assert tame_html('<B title="x>y" class=q>b</B> <em\nid=1>e</em> <a href="/x" title="t">a</a> <bdi x=1>') == (
        '<B>y" class=q>b</B> <em>e</em> <a href="/x" title="t">a</a> <bdi x=1>')
    assert sanitise_remote('<p>Hi <a href="https://a.example/">there</a></p>' + "<div>" * 5000, max_tags=3) == (
        '<p>Hi <a href="https://a.example/" rel="noopener nofollow ugc">there</a></p>')
