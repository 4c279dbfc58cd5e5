"""The pure half of bookmark import/export: Netscape HTML and Pinboard JSON parsing, detection and emitting."""
from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from linkblog.importexport import (ImportedBookmark, Invalid, ParseError, detect_format, emit_netscape,
                                   emit_pinboard, epoch_to_datetime, parse_netscape, parse_pinboard,
                                   to_export_dict)

FIX = Path(__file__).parent / "fixtures" / "bookmarks"


def netscape(name, **kw):
    return list(parse_netscape((FIX / "netscape" / name).read_text(encoding="utf-8"), **kw))


def good(items):
    return [i for i in items if isinstance(i, ImportedBookmark)]


# name → (bookmarks, invalid)
NETSCAPE_COUNTS = {
    "chrome-export.html": (27, 0), "firefox-export-ru.html": (9, 0), "firefox-export.html": (27, 0),
    "linkding-one-invalid.html": (3, 0), "linkding-simple.html": (3, 0), "nextcloud-fragment.html": (10, 0),
    "pocket-export.html": (2, 0), "raindrop-export.html": (5, 0), "safari-export.html": (4, 1),
    "shaarli-basic.htm": (2, 0), "shaarli-empty.htm": (0, 0), "shaarli-export.html": (2, 0),
    "shaarli-ie-utf8-bom.htm": (1, 0), "shaarli-lowercase-doctype.htm": (2, 0), "shaarli-nested.htm": (8, 0),
    "shaarli-no-doctype.htm": (2, 0), "shaarli-nodate.htm": (1, 0), "shaarli-same-date.htm": (3, 0),
}


def test_every_netscape_fixture_is_covered():
    assert sorted(p.name for p in (FIX / "netscape").iterdir()) == sorted(NETSCAPE_COUNTS)


@pytest.mark.parametrize("name", sorted(NETSCAPE_COUNTS))
def test_netscape_counts(name):
    items = netscape(name)
    assert (len(good(items)), len(items) - len(good(items))) == NETSCAPE_COUNTS[name]
    for b in good(items):
        assert b.url.startswith(("http://", "https://")) and b.title
        assert all(t == t.lower() and " " not in t for t in b.tags)
        assert b.created is None or b.created.tzinfo is None


@pytest.mark.parametrize("name", sorted(NETSCAPE_COUNTS))
def test_detect_netscape(name):
    data = (FIX / "netscape" / name).read_bytes()
    assert detect_format(data[:1024]) == "netscape"


def test_linkding_seconds_milli_micro_seconds():
    items = netscape("linkding-simple.html")
    when = datetime(2021, 3, 21, 14, 39, 19)
    assert [b.created for b in items] == [when] * 3
    assert items[1].title == "test title 2" and items[1].description == "test description 2"
    assert items[2].tags == ["tag3"] and not items[2].private and not items[2].toread


def test_linkding_invalid_date_becomes_none():
    items = netscape("linkding-one-invalid.html")
    assert items[0].url == "https://example.com/1" and items[0].created is None
    assert items[1].created == datetime(2021, 3, 21, 14, 39, 19)


def test_safari_javascript_is_invalid_and_folders_are_tags():
    items = netscape("safari-export.html")
    assert isinstance(items[0], Invalid) and "javascript:" in items[0].reason and items[0].position.startswith("line 8")
    assert items[1].title == "Википедия" and items[1].tags == ["favourites"] and items[1].created is None
    assert items[-1].url == "https://bouncepaw.com" and items[-1].tags == ["reading-list"]


def test_firefox_entities_folders_and_last_modified():
    items = netscape("firefox-export.html")
    toyota = next(b for b in items if b.url == "https://www.toyota.com/")
    assert toyota.title == "New Cars, Trucks, SUVs & Hybrids | Toyota Official Site" and toyota.tags == ["cars"]
    python = next(b for b in items if b.url == "https://www.python.org/")
    assert python.tags == ["bookmarks-toolbar", "programming", "languages"]
    audi = items[0]
    assert audi.created == datetime(2020, 9, 10, 15, 8, 31) and audi.updated == datetime(2024, 6, 30, 18, 30, 24)
    assert "utm_medium=default-bookmarks&utm_campaign" in next(b.url for b in items if b.title == "Customize Firefox")
    assert netscape("firefox-export.html", folders_as_tags=False)[0].tags == []


def test_firefox_russian_folders():
    tags = {t for b in netscape("firefox-export-ru.html") for t in b.tags}
    assert "панель-закладок" in tags or "другие-закладки" in tags
    assert all(" " not in t and "/" not in t for t in tags)


def test_chrome_nested():
    items = netscape("chrome-export.html")
    assert items[0].title == "Getting Started" and items[0].tags == ["bookmarks-bar"]
    assert items[1].tags == ["bookmarks-bar", "mozilla-firefox"]


def test_shaarli_private_tags_and_apache_date():
    secret, public = netscape("shaarli-basic.htm")
    assert secret.private and secret.tags == ["private", "secret"] and secret.created is None
    assert secret.description == "Super-secret stuff you're not supposed to know about"
    assert not public.private and public.tags == ["public", "hello", "world"]
    assert public.created == datetime(2016, 2, 25, 20, 55, 48) and public.description == ""
    assert netscape("shaarli-lowercase-doctype.htm") == [secret, public] == netscape("shaarli-no-doctype.htm")


def test_shaarli_nested_and_export():
    items = netscape("shaarli-nested.htm")
    by_url = {b.url: b for b in items}
    assert by_url["http://nest.ed/1"].tags == ["tag1", "tag2"]
    assert by_url["http://nest.ed/2-1"].private and by_url["http://nest.ed/2-1"].tags == ["folder2"]
    assert by_url["http://nest.ed/2-1"].description == "First link of the second section"
    assert by_url["http://nest.ed/3-1"].tags == ["tag3", "folder3", "folder3-1"]
    assert by_url["http://nest.ed/2"].tags == ["tag4"]
    first, second = netscape("shaarli-export.html")
    assert first.description.startswith("In the two years") and second.description == ""
    assert first.updated == datetime(2023, 6, 15, 7, 18, 39)


def test_small_shaarli_files():
    (bom,) = netscape("shaarli-ie-utf8-bom.htm")
    assert bom.url == "http://hginit.com/" and bom.title == "Hg Init a Mercurial tutorial by Joel Spolsky"
    (nodate,) = netscape("shaarli-nodate.htm")
    assert nodate.created is None and nodate.tags == ["safari", "import"]
    assert {b.created for b in netscape("shaarli-same-date.htm")} == {datetime(2016, 2, 25, 20, 55, 48)}
    assert netscape("shaarli-empty.htm") == [] and list(parse_netscape("")) == []


def test_nextcloud_raindrop_pocket():
    items = netscape("nextcloud-fragment.html")
    assert items[0].description == "This is a description." and items[0].tags == ["tag0", "0"]
    assert items[-1].url == "http://url13.net/" and items[-1].tags == ["tag13"]
    rain = netscape("raindrop-export.html")
    assert rain[3].description == "This suite of open source tools is the software development platform you've been waiting for."
    assert rain[0].tags == ["bookmarks", "software", "pinboard1"] and rain[4].tags == ["pinboard1"]
    pocket = netscape("pocket-export.html")
    assert pocket[0].tags == ["ifttt", "new_entry_simple"] and pocket[0].created == datetime(2023, 7, 6, 7, 31, 35)


def test_netscape_quirks():
    text = ('<!DOCTYPE NETSCAPE-Bookmark-file-1><dl><p><dt><a href="https://a.example/" add_date="1600000000" '
            'tags="One,Two" private="1" toread="1"><dt><A HREF="https://b.example/"></A><DD>note &amp; more'
            '<DT><A HREF="place:sort=8">Recent</A><DT><A HREF="data:text/html,hi">d</A>'
            '<DT><A HREF="about:blank">a</A><DT><A HREF="ftp://x">f</A></dl>')
    items = list(parse_netscape(text))
    a, b = good(items)
    assert a.title == "https://a.example/" and a.tags == ["one", "two"] and a.private and a.toread
    assert a.created == datetime(2020, 9, 13, 12, 26, 40)
    assert b.title == "https://b.example/" and b.description == "note & more"
    assert len(items) == 6
    assert epoch_to_datetime("abc") is None and epoch_to_datetime("0") is None
    assert epoch_to_datetime("1600000000000000") == datetime(2020, 9, 13, 12, 26, 40)


@pytest.mark.parametrize("name", ["other/pocket-export.csv", "other/instapaper-export.csv",
                                  "other/raindrop-export.csv", "pinboard/../browser-json/chrome-bookmarks.json",
                                  "other/delicious-export.json"])
def test_not_a_bookmark_file(name):
    with pytest.raises(ParseError):
        list(parse_netscape((FIX / name).read_text(encoding="utf-8")))
    with pytest.raises(ParseError, match="no <A HREF>"):
        list(parse_netscape("<html><body><p>hello</p></body></html>"))


# ---------------------------------------------------------------- Pinboard

def test_pinboard_betula():
    items = list(parse_pinboard((FIX / "pinboard" / "pinboard-export-betula.json").read_text()))
    assert len(items) == 5
    codeberg, sourcehut, bouncepaw, wiki, betula = items
    assert codeberg.title == "Codeberg" and codeberg.tags == [] and not codeberg.private
    assert codeberg.created == datetime(2024, 1, 10, 8, 0)
    assert sourcehut.tags == ["forge", "git"] and sourcehut.description.startswith("This suite")
    assert bouncepaw.private and not bouncepaw.toread
    assert wiki.private and wiki.toread and wiki.description == "A wiki engine."
    assert betula.created == datetime(2024, 5, 1, 14, 0)


def test_pinboard_wallabag():
    items = list(parse_pinboard((FIX / "pinboard" / "pinboard-export-wallabag.json").open(encoding="utf-8")))
    assert len(items) == 3
    assert items[0].tags == ["infinite", "dom", "performance", "scroll"]
    assert items[1].tags == ["varnish", "php"] and '"Varnish for PHP developers"' in items[1].description
    assert items[2].created == datetime(2016, 10, 5, 7, 11, 27)


@pytest.mark.parametrize("name", ["pinboard-export-betula.json", "pinboard-export-wallabag.json"])
def test_detect_pinboard(name):
    assert detect_format((FIX / "pinboard" / name).read_bytes()[:512]) == "pinboard"


def test_pinboard_broken_and_invalid():
    with pytest.raises(ParseError) as info:
        list(parse_pinboard('[\n  {"href": "https://a.example/",\n  "description": }\n]'))
    assert info.value.position == (3, 18)
    items = list(parse_pinboard('[{"href": "javascript:alert(1)"}, {"href": "https://ok.example/"}, 3]'))
    assert [type(i) for i in items] == [Invalid, ImportedBookmark, Invalid]
    assert items[0].position == "item 1" and items[1].title == "https://ok.example/"
    assert list(parse_pinboard("")) == []


@pytest.mark.parametrize("name,words", [
    ("browser-json/chrome-bookmarks.json", "Chrome"), ("browser-json/chrome-bookmarks-buku.json", "Chrome"),
    ("browser-json/firefox-backup.json", "Firefox"), ("other/pocket-export.csv", "Pocket"),
    ("other/instapaper-export.csv", "Instapaper"), ("other/raindrop-export.csv", "Raindrop"),
    ("other/delicious-export.json", "Delicious")])
def test_detect_refuses_with_clear_message(name, words):
    with pytest.raises(ParseError) as info:
        detect_format((FIX / name).read_bytes()[:1024])
    message = str(info.value)
    assert words in message and "not supported yet" in message and "Pinboard JSON" in message


# ---------------------------------------------------------------- emitting and round trips

ALL_NETSCAPE = [n for n, (count, _) in NETSCAPE_COUNTS.items() if count]


@pytest.mark.parametrize("name", ALL_NETSCAPE)
def test_netscape_round_trip(name):
    first = good(netscape(name))
    html_text = "".join(emit_netscape(to_export_dict(b) for b in first))
    assert list(parse_netscape(html_text)) == first


@pytest.mark.parametrize("name", ALL_NETSCAPE + ["pinboard-export-betula.json", "pinboard-export-wallabag.json"])
def test_pinboard_round_trip(name):
    if name.endswith(".json"):
        first = list(parse_pinboard((FIX / "pinboard" / name).read_text()))
    else:
        first = [b for b in good(netscape(name))]
    text = "".join(emit_pinboard(to_export_dict(b) for b in first))
    json.loads(text)
    again = list(parse_pinboard(text))
    # Pinboard has no "last modified": only that is lost.
    assert again == [ImportedBookmark(**{**b.__dict__, "updated": None}) for b in first]


NASTY = {"url": 'https://x.example/?a=1&b="2"<script>', "title": '<script>alert("t")</script> & "q"',
         "annotation": "</DD><script>x</script>\nline 2", "tags": ['a"b', "<c>"], "visibility": "private",
         "created_at": datetime(2024, 1, 2, 3, 4, 5), "updated_at": None}


def test_emit_netscape_escapes_everything():
    text = "".join(emit_netscape([NASTY]))
    assert "<script>" not in text and '"2"' not in text
    tags: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)
    Collect().feed(text)
    assert "script" not in tags
    assert 'ADD_DATE="1704164645"' in text and 'PRIVATE="1"' in text
    (b,) = parse_netscape(text)
    assert b.url == NASTY["url"] and b.title == '<script>alert("t")</script> & "q"'
    assert b.description == NASTY["annotation"] and b.private and b.tags == ["a-b", "c"]


def test_emit_pinboard_is_streamed_json():
    chunks = list(emit_pinboard([NASTY, {**NASTY, "visibility": "public", "tags": []}]))
    assert len(chunks) == 4
    data = json.loads("".join(chunks))
    assert data[0]["description"] == NASTY["title"] and data[0]["shared"] == "no" and data[1]["shared"] == "yes"
    assert data[0]["time"] == "2024-01-02T03:04:05Z" and data[0]["tags"] == 'a"b <c>'
    assert json.loads("".join(emit_pinboard([]))) == []
    assert "".join(emit_netscape([])).count("<DT>") == 0


def test_large_file_streams():
    total = 20_000
    produced = 0

    def chunks():
        nonlocal produced
        yield "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n"
        for n in range(total):
            produced += 1
            yield f'<DT><A HREF="https://example.com/{n}" ADD_DATE="{1600000000 + n}" TAGS="t{n % 7}">Link {n}</A>\n'
        yield "</DL><p>\n"

    stream = parse_netscape(chunks())
    first = next(stream)
    assert first.url == "https://example.com/0" and produced < 100  # it did not read the whole input first
    count = 1
    for item in stream:
        count += 1
        assert produced - count < 100  # never far ahead of the reader
    assert count == total and item.title == f"Link {total - 1}"


def test_pinboard_is_read_item_by_item_across_chunk_boundaries():
    text = (FIX / "pinboard" / "pinboard-export-betula.json").read_text()
    whole = list(parse_pinboard(text))
    one_char_chunks = list(parse_pinboard(iter(text)))
    assert one_char_chunks == whole and len(whole) > 1


def test_pinboard_stream_does_not_hold_the_whole_file():
    """Items come out while the source is still being read: the parser never needs the whole array."""
    served = []

    def source():
        yield "["
        for n in range(1000):
            served.append(n)
            yield ("," if n else "") + json.dumps({"href": f"https://example.org/{n}", "description": f"n{n}"})
        yield "]"

    items = parse_pinboard(source())
    first = next(items)
    assert first.url == "https://example.org/0" and len(served) < 10
    assert len(list(items)) == 999


@pytest.mark.parametrize("text,position,words", [
    ('[{"href": "https://a.example/"}', (1, 32), "cut off"),
    ('[{"href": "https://a.example/"}] extra', (1, 34), "more after"),
    ('[{"href": "https://a.example/"} {"href": "https://b.example/"}]', (1, 33), "Expected ','"),
    ('{"href": "https://a.example/"}', (1, 1), "JSON array"),
])
def test_pinboard_broken_files_name_the_position(text, position, words):
    with pytest.raises(ParseError) as info:
        list(parse_pinboard(text))
    assert info.value.position == position and words in info.value.reason


def test_pinboard_error_position_is_right_deep_into_a_large_file():
    good = ",\n".join(json.dumps({"href": f"https://example.org/{n}", "description": "x" * 200})
                      for n in range(2000))
    text = "[\n" + good + ',\n{"href": "https://bad.example/", "description": tru}\n]'
    with pytest.raises(ParseError) as info:
        list(parse_pinboard(text))
    assert info.value.position == (2002, 49)
