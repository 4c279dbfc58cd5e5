"""The inbound helpers over real payloads from many fediverse servers (copies listed in fixtures/SOURCES.md):
each payload reads as fixtures/EXPECTED.toml says (see expectations.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from linkblog.federation.reading import PUBLIC, as_list, audience, first_link, has_type, id_of, is_public

from tests.federation.expectations import FACETS, expected, name_of, payloads, read_json, reads, table

FIXTURES = Path(__file__).parent / "fixtures"
ACTIVITYPUB = FIXTURES / "activitypub"
PAYLOADS = payloads()


def load(name: str) -> Any:
    return json.loads((ACTIVITYPUB / name).read_text(encoding="utf-8"))


def embedded_objects(doc: Any) -> list[dict]:
    """The document and any object embedded in it (one level, as the inbox sees them)."""
    if not isinstance(doc, dict):
        return []
    found = [doc]
    for value in as_list(doc.get("object")):
        if isinstance(value, dict):
            found.append(value)
    return found


def test_every_fixture_is_listed_in_sources():
    assert len(PAYLOADS) > 200
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    missing = [p.relative_to(FIXTURES).as_posix() for p in PAYLOADS
               if f"| `{p.relative_to(FIXTURES).as_posix()}` |" not in sources]
    assert missing == []


def test_every_fixture_has_an_expectation_and_every_expectation_a_fixture():
    names, entries = {name_of(p) for p in PAYLOADS}, set(table())
    assert sorted(names - entries) == [], "fixtures without an entry in EXPECTED.toml"
    assert sorted(entries - names) == [], "entries in EXPECTED.toml without a fixture"
    assert [name for name, entry in table().items() if sorted(entry) != sorted(FACETS)] == []


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda p: p.relative_to(ACTIVITYPUB).as_posix())
def test_every_payload_reads_as_expected(path: Path):
    doc = read_json(path)
    for obj in embedded_objects(doc):
        for value in obj.values():
            assert isinstance(as_list(value), list)
        for key in ("id", "actor", "object", "attributedTo", "inReplyTo"):
            ident = id_of(obj.get(key))
            assert ident is None or isinstance(ident, str)
        assert all(isinstance(a, str) for a in audience(obj))
        link = first_link(obj)
        assert link is None or link.startswith(("http://", "https://"))
    found = reads(doc)
    assert found == expected(path, "reads", found)


def test_mastodon_create_note_with_hashtag_and_mention():
    create = load("mastodon/create-note-hashtag.json")
    note = create["object"]
    assert id_of(create["actor"]) == "http://mastodon.example.org/users/admin"
    assert id_of(note) == "http://mastodon.example.org/users/admin/statuses/99512778738411822"
    assert audience(create) == [PUBLIC, "http://mastodon.example.org/users/admin/followers",
                                "http://localtesting.pleroma.lol/users/lain"]
    assert is_public(audience(note)[0])
    hashtags = [t["name"] for t in as_list(note["tag"]) if has_type(t, "Hashtag")]
    assert hashtags == ["#moo"]
    assert first_link(note) is None  # only a mention and a hashtag: nothing to bookmark


def test_betula_bookmark_note_yields_the_bookmarked_url():
    create = load("betula/create-note-bookmark.json")
    assert first_link(create["object"]) == "https://www.datagubbe.se/adosmyst/"
    assert first_link(create) == "https://www.datagubbe.se/adosmyst/"
    assert audience(create["object"]) == [PUBLIC, "https://links.bouncepaw.com/followers"]
    assert create["object"]["name"].strip() == "403 Forbidden"
    update = load("betula/update-note-bookmark.json")
    assert first_link(update) == "https://www.datagubbe.se/adosmyst/"


def test_lemmy_page_link_attachment_wins_over_its_image():
    page = load("lemmy/page-image-and-link.json")
    assert has_type(page, "Page")
    assert first_link(page) == "https://example.com/some-article"
    addresses = audience(page)
    assert "https://enterprise.lemmy.ml/c/tenforward" in addresses  # audience given as a bare string
    assert any(is_public(a) for a in addresses)


def test_lemmy_create_page_unwraps_to_its_link():
    create = load("lemmy/create-page.json")
    assert first_link(create) == first_link(create["object"])
    assert first_link(create).startswith("https://")


def test_misskey_note_link_in_content():
    note = load("misskey/note-misskey-io-2024.json")
    assert first_link(note) == "https://misskey-hub.net/ja/docs/releases/"
    assert audience(note) == [PUBLIC, "https://misskey.io/users/7rkrarq81i/followers"]
    assert id_of(note["attributedTo"]) == "https://misskey.io/users/7rkrarq81i"


def test_quote_posts_do_not_count_as_links():
    assert first_link(load("misskey/note-quote.json")) is None
    assert first_link(load("akkoma/note-quote.json")) is None  # "RE: <a>" inside span.quote-inline


def test_wordpress_and_lotide_articles_link_out():
    assert first_link(load("lotide/create-page.json")) == \
        "https://blog.twitter.com/engineering/en_us/a/2010/announcing-snowflake.html"
    assert first_link(load("wordpress/pterotype-create-article.json")) == \
        "https://www.patreon.com/posts/mastodon-2-9-and-28121681"
