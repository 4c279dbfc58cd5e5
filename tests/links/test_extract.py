"""What is kept of a page (``links/extract.py``): text in any charset, declared or not, metadata from the head,
the readable main text through trafilatura, sanitised HTML with links kept, malformed pages, PDFs."""
from __future__ import annotations

from linkblog.links.extract import decode, html_page, pdf_page
from tests.support.copies import COPY_SETTINGS

SETTINGS = COPY_SETTINGS  # the config fixture's (tests/links/conftest.py)

ARTICLE = ("<p>The heron stood in the shallow water for a long time, watching the reeds move in the wind. "
           "Nobody on the bank said a word while it waited for a fish.</p>") * 4


def test_valid_utf8_is_read_as_utf8_whatever_is_declared():
    assert decode("Grüße aus Köln".encode(), "text/html; charset=iso-8859-1") == "Grüße aus Köln"


def test_a_declared_legacy_charset_is_used_when_the_bytes_are_not_utf8():
    assert decode("Grüße".encode("iso-8859-1"), "text/html; charset=iso-8859-1") == "Grüße"
    meta = b'<meta charset="koi8-r"><p>' + "Привет мир".encode("koi8-r")
    assert "Привет мир" in decode(meta, "text/html")


def test_an_undeclared_legacy_page_is_guessed_and_never_fails():
    latin = ("Ceci est un café très agréable, où l'on mange des crêpes. " * 4).encode("cp1252")
    guessed = decode(latin, "text/html")  # a guess: a near neighbour of windows-1252 may win, never an error
    assert "café" in guessed and "agréable" in guessed
    assert decode("café".encode("cp1252"), "") == "café"  # too short to guess: windows-1252, as browsers do
    assert decode(b"\xff\xfe\x00bad", "text/html; charset=no-such-charset")  # unknown names are skipped


def test_the_head_and_the_readable_text_are_kept_and_scripts_are_not():
    page = html_page((
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Le héron</title>'
        '<meta name="description" content="Un oiseau patient."><meta property="og:site_name" content="Oiseaux">'
        '<link rel="canonical" href="/heron"><link rel="icon" href="/i.png"><script src="https://t.example/x.js">'
        '</script></head><body><nav>Menu Home About</nav><article><h1>Le héron</h1>' + ARTICLE +
        '<p>See <a href="https://birds.example/heron">the heron page</a>.</p><script>track()</script>'
        '<img src="https://t.example/pixel.gif"></article></body></html>').encode(),
        "text/html", "http://127.0.0.9/a/b", 100_000)
    assert (page.title, page.description, page.site_name, page.language) == \
        ("Le héron", "Un oiseau patient.", "Oiseaux", "fr")
    assert page.canonical_url == "http://127.0.0.9/heron" and page.favicon == "http://127.0.0.9/i.png"
    assert "The heron stood in the shallow water" in page.text
    assert 'href="https://birds.example/heron"' in page.html
    for gone in ("<script", "track()", "pixel.gif", "<img", "x.js", "<h1"):
        assert gone not in page.html


def test_malformed_html_still_gives_its_text():
    page = html_page(b"<html><head><title>Broken</title><body><div><p>" + ARTICLE.encode() + b"<p><b><i>unclosed</div></table>",
                     "text/html", "http://127.0.0.9/", 100_000)
    assert "The heron stood" in page.text


def test_a_page_without_readable_text_says_so():
    page = html_page(b"<html><head><title>Empty</title></head><body></body></html>", "text/html", "http://x.test/", 1000)
    assert page.title == "Empty" and page.text == "" and "no readable text" in page.note


def test_the_text_is_cut_at_the_cap_and_says_so():
    paragraphs = "".join(f"<p>Paragraph {n} tells how the heron number {n} waited in the reeds for a fish.</p>"
                         for n in range(60))
    page = html_page(f"<article>{paragraphs}</article>".encode(), "text/html", "http://x.test/", 500)
    assert len(page.text) <= 500 and "cut at 500" in page.note


def test_a_pdf_keeps_its_title_only():
    page = pdf_page(b"%PDF-1.4\n1 0 obj << /Title (Annual \\(draft\\) report) >> endobj\n%%EOF")
    assert page.title == "Annual (draft) report" and page.text == "" and "PDF" in page.note
    assert pdf_page(b"%PDF-1.4 no info").title == ""


def test_the_readable_html_is_what_trafilaturas_public_extract_gives() -> None:
    """``readable_html`` skips ``extract``'s similarity hash; on pages of every shape (a long article as the
    benchmark builds it, a sparse page where trafilatura's fallback extractors decide, a table, a list, nested
    headings) it must give exactly the HTML of trafilatura's public call."""
    import importlib.util
    import random
    from pathlib import Path

    import lxml.etree
    import lxml.html
    import trafilatura

    from linkblog.links.extract import NOISE, readable_html

    spec = importlib.util.spec_from_file_location("linkweb", Path(__file__).resolve().parents[2] / "bench" / "linkweb.py")
    linkweb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(linkweb)      # the benchmark's article pages

    pages = [linkweb.article(random.Random(seed), size) for seed, size in ((1, 40_000), (2, 200_000))]
    pages += [f"<html><body><div>{ARTICLE}</div></body></html>".encode(),
              b"<html><body><span>One short line.</span><div><b>Bold</b> and <i>more</i> text here.</div></body></html>",
              ("<html><body><article><h1>T</h1><h2>Sub</h2>" + ARTICLE + "<table><tr><th>a</th><th>b</th></tr>"
               "<tr><td>1</td><td>2</td></tr></table><ul><li>one item of the list</li><li>two</li></ul>"
               "<blockquote>Quoted words of some length to keep.</blockquote><pre>code()</pre></article>"
               "</body></html>").encode(),
              b"<html><body></body></html>"]
    options = {"output_format": "html", "include_links": True, "include_images": False, "include_comments": False,
               "include_tables": True, "deduplicate": False}
    for body in pages:
        def tree():  # noqa: ANN202
            parsed = lxml.html.document_fromstring(body, parser=lxml.html.HTMLParser(encoding="utf-8"))
            lxml.etree.strip_elements(parsed, *NOISE, with_tail=False)
            return parsed

        expected = trafilatura.extract(tree(), url="http://127.0.0.9/p", **options) or ""
        assert readable_html(tree(), "http://127.0.0.9/p") == expected
    assert readable_html(tree(), "http://127.0.0.9/p") == ""   # the empty page: nothing readable
