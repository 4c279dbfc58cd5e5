"""The pure half of bookmark import/export: parsing every format (Netscape HTML, Pinboard JSON, Chrome and Firefox
JSON, Pocket, Raindrop.io and Instapaper CSV), detection and emitting."""
from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from linkblog.transfer.formats.browser_json import parse_chrome_json, parse_firefox_json
from linkblog.transfer.formats.csv_formats import parse_instapaper_csv, parse_pocket_csv, parse_raindrop_csv
from linkblog.transfer.formats.detect import detect_format
from linkblog.transfer.formats.entries import ImportedBookmark, Invalid, ParseError, to_export_dict
from linkblog.transfer.formats.fields import epoch_to_datetime
from linkblog.transfer.formats.netscape import emit_netscape, parse_netscape
from linkblog.transfer.formats.pinboard import emit_pinboard, parse_pinboard
from linkblog.transfer.formats.registry import LABELS, PARSERS

FIX = Path(__file__).parent / "fixtures" / "bookmarks"


def netscape(name, **kw):
    return list(parse_netscape((FIX / "netscape" / name).read_text(encoding="utf-8"), **kw))


def good(items):
    return [i for i in items if isinstance(i, ImportedBookmark)]


# Every file under fixtures/bookmarks/ but SOURCES.md → what it becomes: (the format detected from its first
# 1024 bytes, bookmarks, invalid entries, (url, title, tags) of the first bookmark, why the invalid ones are
# invalid), or the start of the message that refuses it.
HTTP_ONLY = "Only http and https links can be imported (this one is {}:)."
BOOKMARK_FIXTURES: dict[str, tuple | str] = {
    "browser-json/chrome-bookmarks-buku.json": (
        "chrome-json", 14, 29, ("http://voyagerlive.org/", "Voyager", ["bookmarks-bar"]),
        (HTTP_ONLY.format("apt"), HTTP_ONLY.format("file"))),
    "browser-json/chrome-bookmarks.json": (
        "chrome-json", 1, 0,
        ("https://www.20minutes.fr/sport/3256363-20220321-tournoi-vi-nations-trophee-gagne-xv-france-fini-fond-seine",
         "Tournoi des VI Nations : Le trophée gagné par le XV de France a-t-il fini au fond de la Seine ?",
         ["barre-de-favoris"]), ()),
    "browser-json/firefox-backup.json": (
        "firefox-json", 2, 0,
        ("https://www.20minutes.fr/sport/4002755-20220928-tarn-lapins-ravagent-terrain-match-rugby-doit-etre-annule",
         "Tarn : Des lapins ravagent le terrain, le match de rugby doit être annulé",
         ["test", "tag", "barre-personnelle"]), ()),
    "netscape/chrome-export.html": (
        "netscape", 27, 0,
        ("https://www.mozilla.org/en-US/firefox/central/", "Getting Started", ["bookmarks-bar"]), ()),
    "netscape/firefox-export-ru.html": (
        "netscape", 9, 0, ("https://support.mozilla.org/products/firefox", "Получить помощь", ["mozilla-firefox"]), ()),
    "netscape/firefox-export.html": (
        "netscape", 27, 0,
        ("https://www.audi.com/en.html", "Audi.com – the international Audi website | audi.com", ["cars"]), ()),
    # Its "invalid" bookmark has ADD_DATE="invaliddate" (SOURCES.md says "without a valid URL"): it is kept,
    # without a date (see test_linkding_invalid_date_becomes_none).
    "netscape/linkding-one-invalid.html": (
        "netscape", 3, 0, ("https://example.com/1", "test title 1", ["tag1"]), ()),
    "netscape/linkding-simple.html": (
        "netscape", 3, 0, ("https://example.com/1", "test title 1", ["tag1"]), ()),
    "netscape/nextcloud-fragment.html": (
        "netscape", 10, 0, ("http://url0.net/", "Title 0", ["tag0", "0"]), ()),   # "0" is its folder
    # Pocket's HTML export is not Netscape, but its <a href time_added tags> read as bookmarks all the same.
    "netscape/pocket-export.html": (
        "netscape", 2, 0,
        ("https://www.20minutes.fr/sport/4002755-20220928-tarn-lapins-ravagent-terrain-match-rugby-doit-etre-annule",
         "Tarn : Des lapins ravagent le terrain, le match de rugby doit être annulé", ["ifttt", "new_entry_simple"]),
        ()),
    "netscape/raindrop-export.html": (
        "netscape", 5, 0, ("https://joinbetula.org/", "Betula", ["bookmarks", "software", "pinboard1"]), ()),
    "netscape/safari-export.html": (
        "netscape", 4, 1,
        ("https://ru.wikipedia.org/wiki/%D0%97%D0%B0%D0%B3%D0%BB%D0%B0%D0%B2%D0%BD%D0%B0%D1%8F_%D1%81%D1%82%D1%80"
         "%D0%B0%D0%BD%D0%B8%D1%86%D0%B0", "Википедия", ["favourites"]), (HTTP_ONLY.format("javascript"),)),
    "netscape/shaarli-basic.htm": (
        "netscape", 2, 0, ("https://private.tld", "Secret stuff", ["private", "secret"]), ()),
    "netscape/shaarli-empty.htm": ("netscape", 0, 0, None, ()),
    # The capture pairs a 20minutes.fr URL with a Medium article's title: the file's, not ours.
    "netscape/shaarli-export.html": (
        "netscape", 2, 0,
        ("https://www.20minutes.fr/sport/4002755-20220928-tarn-lapins-ravagent-terrain-match-rugby-doit-etre-annule",
         "The Legacy of Firefox OS. In the two years or so since Mozilla… | by Ben Francis | Medium", ["firefoxos"]),
        ()),
    "netscape/shaarli-ie-utf8-bom.htm": (
        "netscape", 1, 0, ("http://hginit.com/", "Hg Init a Mercurial tutorial by Joel Spolsky", []), ()),
    "netscape/shaarli-lowercase-doctype.htm": (
        "netscape", 2, 0, ("https://private.tld", "Secret stuff", ["private", "secret"]), ()),
    "netscape/shaarli-nested.htm": (
        "netscape", 8, 0, ("http://nest.ed/1", "Nested 1", ["tag1", "tag2"]), ()),
    "netscape/shaarli-no-doctype.htm": (
        "netscape", 2, 0, ("https://private.tld", "Secret stuff", ["private", "secret"]), ()),
    "netscape/shaarli-nodate.htm": (
        "netscape", 1, 0, ("https://no.date.tld", "Bookmark without date", ["safari", "import"]), ()),
    "netscape/shaarli-same-date.htm": (
        "netscape", 3, 0, ("https://fir.st", "Today's first link", []), ()),
    "other/delicious-export.json": "A Delicious JSON export is not supported yet. Supported: Netscape bookmark HTML",
    "other/instapaper-export.csv": (
        "instapaper-csv", 4, 0,
        ("https://www.theguardian.com/global-development/ng-interactive/2025/dec/22/childbirth-under-attack-how-women"
         "-and-babies-became-targets-in-conflicts-around-the-world",
         "Childbirth under attack: how women and babies became targets in conflicts around the world", []), ()),
    "other/pocket-export.csv": (
        "pocket-csv", 7, 0, ("http://youmightnotneedjquery.com/", "You Might Not Need jQuery", []), ()),
    "other/raindrop-export.csv": (
        "raindrop-csv", 5, 0, ("https://joinbetula.org/", "Betula", ["bookmarks", "software", "pinboard1"]), ()),
    "pinboard/pinboard-export-betula.json": (
        "pinboard", 5, 0, ("https://codeberg.org", "Codeberg", []), ()),
    "pinboard/pinboard-export-wallabag.json": (
        "pinboard", 3, 0,
        ("https://developers.google.com/web/updates/2016/07/infinite-scroller", "Complexities of an Infinite Scroller",
         ["infinite", "dom", "performance", "scroll"]), ()),
}
# name → (bookmarks, invalid)
NETSCAPE_COUNTS = {path.removeprefix("netscape/"): becomes[1:3] for path, becomes in BOOKMARK_FIXTURES.items()
                   if path.startswith("netscape/")}


def test_every_bookmark_fixture_is_in_the_table_and_every_entry_a_fixture():
    found = [p.relative_to(FIX).as_posix() for p in FIX.rglob("*") if p.is_file() and p.name != "SOURCES.md"]
    assert sorted(found) == sorted(BOOKMARK_FIXTURES)


@pytest.mark.parametrize("path", sorted(BOOKMARK_FIXTURES))
def test_every_bookmark_fixture_becomes_what_the_table_says(path):
    data, becomes = (FIX / path).read_bytes(), BOOKMARK_FIXTURES[path]
    if isinstance(becomes, str):
        with pytest.raises(ParseError) as info:
            detect_format(data[:1024])
        assert str(info.value).startswith(becomes)
        return
    fmt, count, invalid, first, why = becomes
    assert detect_format(data[:1024]) == fmt
    items = list(PARSERS[fmt](data))
    found, refused = good(items), [i for i in items if isinstance(i, Invalid)]
    assert (len(found), len(refused), len(items)) == (count, invalid, count + invalid)
    assert ((found[0].url, found[0].title, found[0].tags) if found else None) == first
    assert tuple(sorted({i.reason for i in refused})) == why


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


def test_detect_refuses_with_clear_message():
    with pytest.raises(ParseError) as info:
        detect_format((FIX / "other/delicious-export.json").read_bytes()[:1024])
    message = str(info.value)
    assert "Delicious" in message and "not supported yet" in message
    assert all(name in message for name in ("Pinboard JSON", "Chrome", "Firefox", "Pocket", "Raindrop.io",
                                            "Instapaper"))
    for text, words in ((b'{"a": 1}', "JSON file is not a bookmark format"),
                        (b"name,link,added\nx,https://a.example/,1\n", "columns is not supported: added, link, name"),
                        (b"just some words", "Unrecognised file")):
        with pytest.raises(ParseError, match=words):
            detect_format(text)


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


# ---------------------------------------------------------------- the other formats (csv_formats.py, browser_json.py)

# path → (format, bookmarks, invalid)
OTHER_COUNTS = {path: becomes[:3] for path, becomes in BOOKMARK_FIXTURES.items()
                if path.startswith(("other/", "browser-json/")) and not isinstance(becomes, str)}


def other(path, **kw):
    with (FIX / path).open(encoding="utf-8") as stream:
        return list(PARSERS[OTHER_COUNTS[path][0]](stream, **kw))


def test_every_other_fixture_is_covered():
    found = sorted(f"{p.parent.name}/{p.name}" for d in ("other", "browser-json") for p in (FIX / d).iterdir())
    assert found == sorted([*OTHER_COUNTS, "other/delicious-export.json"])  # Delicious is refused, above


def test_one_registry():
    assert list(PARSERS) == ["netscape", "pinboard", "pocket-csv", "chrome-json", "firefox-json", "raindrop-csv",
                             "instapaper-csv"]
    assert list(LABELS) == list(PARSERS)


@pytest.mark.parametrize("path", sorted(OTHER_COUNTS))
def test_other_counts_and_detection(path):
    fmt, count, invalid = OTHER_COUNTS[path]
    assert detect_format((FIX / path).read_bytes()[:1024]) == fmt
    items = other(path)
    assert (len(good(items)), len(items) - len(good(items))) == (count, invalid)
    for b in good(items):
        assert b.url.startswith(("http://", "https://")) and b.title and "\n" not in b.title
        assert all(t == t.lower() and " " not in t for t in b.tags)
        assert b.created is None or b.created.tzinfo is None
    # bytes, text and small chunks (cutting quoted multi-line fields and JSON anywhere) read the same
    data = (FIX / path).read_bytes()
    assert list(PARSERS[fmt](data)) == items
    assert list(PARSERS[fmt](data.decode()[i:i + 7] for i in range(0, len(data.decode()), 7))) == items


@pytest.mark.parametrize("path", sorted(OTHER_COUNTS))
def test_other_formats_round_trip_through_netscape(path):
    first = good(other(path))
    assert list(parse_netscape("".join(emit_netscape(to_export_dict(b) for b in first)))) == first


def test_pocket_csv():
    items = other("other/pocket-export.csv")
    jquery = items[0]
    assert jquery == ImportedBookmark(url="http://youmightnotneedjquery.com/", title="You Might Not Need jQuery",
                                      created=datetime(2020, 9, 17, 6, 6, 28), toread=True, private=True)
    archived = items[3]
    assert archived.title == "ArchiveBox question: How do I import links from a RSS feed?" and not archived.toread
    assert archived.created == datetime(2020, 9, 24, 15, 31, 36) and archived.private  # a private reading list
    # a quoted title across three lines becomes one line
    assert items[-1].title == "Des abeilles pour résoudre les « conflits » entre les humains et les élépha"
    assert [b.toread for b in items] == [True, True, True, False, True, False, True]
    (tagged,) = parse_pocket_csv("title,url,time_added,tags,status\n"
                                 "T,https://t.example/,1600000000,Dev Ops|python|,archive\n")
    assert tagged.tags == ["dev-ops", "python"] and not tagged.toread


def test_raindrop_csv():
    items = other("other/raindrop-export.csv")
    betula, wiki = items[0], items[1]
    assert betula.url == "https://joinbetula.org/" and betula.title == "Betula"
    assert betula.tags == ["bookmarks", "software", "pinboard1"] and betula.created == datetime(2024, 5, 1, 14, 0)
    assert not betula.private and not betula.toread and betula.description == ""
    assert wiki.description == "A wiki engine." and items[4].tags == ["pinboard1"]
    # the same collection exported as HTML reads the same, but for the order
    html_items = netscape("raindrop-export.html")
    assert sorted((b.url, b.title, b.tags, b.description) for b in items) == \
        sorted((b.url, b.title, b.tags, b.description) for b in html_items)
    excerpt, nested = parse_raindrop_csv(
        "id,title,note,excerpt,url,folder,tags,created\n"
        "1,T,,The page says,https://e.example/,Unsorted,,2024-01-01T00:00:00.500Z\n"
        "2,N,,,https://n.example/,Apps/Services / AI Tools,\"machine learning, ai\",\n")
    assert excerpt.description == "The page says" and excerpt.tags == ["unsorted"]
    assert excerpt.created == datetime(2024, 1, 1, 0, 0, 0, 500000)
    assert nested.tags == ["machine-learning", "ai", "apps-services", "ai-tools"] and nested.created is None


def test_instapaper_csv():
    unread, archived, starred, tagged = other("other/instapaper-export.csv")
    assert unread.toread and unread.tags == [] and unread.created is None
    assert unread.title.startswith("Childbirth under attack") and unread.url.startswith("https://www.theguardian.com/")
    assert not archived.toread and archived.tags == [] and not starred.toread and starred.tags == []
    assert tagged.title == "Dis donc Donald Trump, c'est quoi exactement «covfefe»?" and tagged.tags == ["test_tag"]
    assert all(b.private for b in (unread, archived, starred, tagged))  # a private reading list
    dated, listed, plain = parse_instapaper_csv(
        "URL,Title,Selection,Folder,Timestamp,Tags\n"
        "https://d.example/,,A quote,Reading Group,1600000000,[]\n"
        'https://l.example/,L,,Unread,1600000001,"[""Go"", ""web security""]"\n'
        "https://p.example/,P,,Archive,,\"go, rust\"\n")
    assert dated.title == "https://d.example/" and dated.description == "A quote"
    assert dated.tags == ["reading-group"] and dated.created == datetime(2020, 9, 13, 12, 26, 40)
    assert listed.tags == ["go", "web-security"] and listed.toread
    assert plain.tags == ["go", "rust"] and plain.created is None and not plain.toread
    (deep,) = parse_instapaper_csv(f"URL,Title,Selection,Folder,Tags\nhttps://x.example/,X,,Unread,{'[' * 50_000}\n")
    assert deep.tags == [] and deep.toread


def test_chrome_json():
    (rugby,) = other("browser-json/chrome-bookmarks.json")
    assert rugby.url == ("https://www.20minutes.fr/sport/"
                         "3256363-20220321-tournoi-vi-nations-trophee-gagne-xv-france-fini-fond-seine")
    assert rugby.title.startswith("Tournoi des VI Nations : Le trophée")
    assert rugby.tags == ["barre-de-favoris"]  # the bookmarks bar, in French
    assert rugby.created == datetime(2016, 9, 20, 13, 15, 29) and rugby.updated is None
    assert not rugby.private and not rugby.toread
    items = other("browser-json/chrome-bookmarks-buku.json")
    assert items[0].title == "Voyager" and items[0].tags == ["bookmarks-bar"]
    assert items[0].created == datetime(2015, 8, 22, 1, 21, 39)
    assert items[1] == Invalid("item 2 (in Bookmarks bar / SP)",
                               "Only http and https links can be imported (this one is file:).")
    ubuntu = next(b for b in good(items) if b.url == "http://www.ubuntu.com/")
    assert ubuntu.tags == ["bookmarks-bar", "imported-from-firefox-2011-09-02-06-03-50",
                           "ubuntu-and-free-software-links"]
    google = items[-1]
    assert google.url == "https://www.google.com/" and google.tags == []  # 'Other bookmarks' is no folder
    assert google.updated is None and google.created == datetime(2017, 9, 9, 7, 38, 12)
    assert other("browser-json/chrome-bookmarks-buku.json", folders_as_tags=False)[0].tags == []


def test_chrome_roots_like_its_html_export():
    data = {"roots": {
        "synced": {"type": "folder", "name": "Mobile bookmarks", "children": [
            {"type": "url", "name": "M", "url": "https://m.example/"}]},
        "other": {"type": "folder", "name": "Other bookmarks", "children": [
            {"type": "folder", "name": "Social", "children": [
                {"type": "url", "name": "", "url": "https://s.example/", "date_added": "0"}]}, 7]},
        "bookmark_bar": {"type": "folder", "name": "", "children": []}}}
    social, seven, mobile = parse_chrome_json(json.dumps(data))
    assert social.tags == ["social"] and social.title == "https://s.example/" and social.created is None
    assert seven == Invalid("item 2", "The entry is not a JSON object.")
    assert mobile.tags == []


def test_firefox_json():
    tarn, jo = other("browser-json/firefox-backup.json")
    assert tarn.url == ("https://www.20minutes.fr/sport/"
                        "4002755-20220928-tarn-lapins-ravagent-terrain-match-rugby-doit-etre-annule")
    assert tarn.title == "Tarn : Des lapins ravagent le terrain, le match de rugby doit être annulé"
    assert tarn.tags == ["test", "tag", "barre-personnelle"]  # tags first, then folders, as Netscape
    assert tarn.created == datetime(2013, 12, 27, 17, 41, 31) and tarn.updated == datetime(2013, 12, 27, 17, 41, 31)
    assert not tarn.private and not tarn.toread and tarn.description == ""
    assert jo.tags == ["barre-personnelle"]
    assert [b.tags for b in other("browser-json/firefox-backup.json", folders_as_tags=False)] == [["test", "tag"], []]


def test_firefox_roots_tags_folder_separators_and_queries():
    place, folder = "text/x-moz-place", "text/x-moz-place-container"
    data = {"type": folder, "root": "placesRoot", "title": "", "children": [
        {"type": folder, "root": "bookmarksMenuFolder", "title": "menu", "children": [
            {"type": place, "title": "Menu", "uri": "https://menu.example/", "dateAdded": 1600000000123456,
             "annos": [{"name": "bookmarkProperties/description", "value": " Said so "}]},
            {"type": "text/x-moz-place-separator"},
            {"type": place, "title": "Recent", "uri": "place:sort=8&maxResults=10"}]},
        {"type": folder, "root": "toolbarFolder", "title": "toolbar", "children": [
            {"type": folder, "title": "Dev Tools", "children": [
                {"type": place, "title": "T", "uri": "https://t.example/", "tags": "web design,css"}]}]},
        {"type": folder, "root": "tagsFolder", "title": "tags", "children": [
            {"type": folder, "title": "css", "children": [{"type": place, "uri": "https://t.example/"}]}]},
        {"type": folder, "root": "unfiledBookmarksFolder", "title": "unfiled", "children": [
            {"type": place, "uri": "https://u.example/"}]},
        {"type": folder, "root": "mobileFolder", "title": "mobile", "children": [
            {"type": place, "uri": "http://m.example/"}]}]}
    menu, query, tool, unfiled, mobile = parse_firefox_json(json.dumps(data))
    assert menu.tags == [] and menu.description == "Said so" and menu.created == datetime(2020, 9, 13, 12, 26, 40)
    assert query == Invalid("item 2", "Only http and https links can be imported (this one is place:).")
    assert tool.tags == ["web-design", "css", "bookmarks-toolbar", "dev-tools"]
    assert unfiled.tags == ["other-bookmarks"] and unfiled.title == "https://u.example/"
    assert mobile.tags == ["mobile-bookmarks"]


@pytest.mark.parametrize("parse, text, position, words", [
    (parse_pocket_csv, 'title,url,time_added,tags,status\nA,https://a.example/,1600000000,,unread\n'
                       '"B cut off,https://b.example/,1600000000,,unread\n', (3, None), "unexpected end of data"),
    (parse_pocket_csv, 'title,url,time_added,tags,status\n"A"x,https://a.example/,1,,unread\n', (2, None),
     "',' expected after"),
    (parse_pocket_csv, "URL,Title,Selection,Folder\nhttps://a.example/,A,,Unread\n", (1, None),
     "not a Pocket CSV export: the first line has no status, tags, time_added columns"),
    (parse_instapaper_csv, (FIX / "other/pocket-export.csv").read_text(), (1, None), "not an Instapaper"),
    (parse_raindrop_csv, "\ufeffid,title,url\n", (1, None), "not a Raindrop.io CSV export"),
    (parse_chrome_json, '{"roots": {\n  "bookmark_bar": {"children": [}\n}', (2, 33), "not valid JSON"),
    (parse_chrome_json, (FIX / "browser-json/firefox-backup.json").read_text(), None, "no \"roots\""),
    (parse_chrome_json, '{"roots": ' + "[" * 100_000, None, "nested too deeply"),
    (parse_firefox_json, (FIX / "browser-json/chrome-bookmarks.json").read_text(), None, "not a Firefox"),
    (parse_firefox_json, '{"type": "text/x-moz-place-container",\n "children": [,]}', (2, 15), "not valid JSON"),
])
def test_other_formats_refuse_broken_files_with_a_position(parse, text, position, words):
    with pytest.raises(ParseError) as info:
        list(parse(text))
    assert info.value.position == position and words in str(info.value)
    if position:
        assert str(info.value).startswith(f"line {position[0]}")


def test_csv_rows_with_the_wrong_number_of_fields_are_invalid():
    text = ("title,url,time_added,tags,status\r\n\r\nA,https://a.example/,1600000000,,unread\r\n"
            "B,https://b.example/,1600000000\r\n\"C\nc\",javascript:alert(1),1,,unread\r\nD,https://d.example/,,,\r\n")
    a, b, c, d = parse_pocket_csv(text)
    assert a.url == "https://a.example/" and d.title == "D" and d.created is None and not d.toread
    assert b == Invalid("line 4", "The row does not have the same number of fields as the first line.")
    assert c.position == "line 5" and "javascript:" in c.reason
    for parse in (parse_pocket_csv, parse_raindrop_csv, parse_instapaper_csv, parse_chrome_json, parse_firefox_json):
        assert list(parse("")) == [] and list(parse(b"")) == []
