"""The pure AS2 builders of what we publish: no app, no database."""
from __future__ import annotations

from datetime import timedelta

import pytest

from linkblog.federation import objects as AS
from linkblog.federation.activities import create
from linkblog.federation.reading import first_link

from tests.federation.documents_support import (BASE, FOLLOWERS, PUBLIC, T0, assert_activity_id, bookmark,
                                                cfg, weeknote)


# --- ids and actor ---------------------------------------------------------------------------------------


def test_ids_derive_from_base_url():
    u = AS.urls(cfg())
    assert (u.actor, u.key_id, u.inbox, u.shared_inbox) == (
        f"{BASE}/actor", f"{BASE}/actor#main-key", f"{BASE}/actor/inbox", f"{BASE}/inbox")
    assert (u.outbox, u.followers, u.following, u.profile) == (
        f"{BASE}/actor/outbox", FOLLOWERS, f"{BASE}/actor/following", f"{BASE}/")
    assert u.bookmark(5) == f"{BASE}/bookmarks/5"
    assert u.weeknote("2026-W10") == f"{BASE}/weeknotes/2026-W10"
    assert u.tag("c++") == f"{BASE}/tags/c++"
    assert_activity_id(u.activity())
    assert u.activity() != u.activity()


def test_stable_activity_id_is_deterministic_per_object():
    config = cfg()
    first = AS.stable_activity_id(config, f"{BASE}/bookmarks/1")
    assert_activity_id(first)
    assert first == AS.stable_activity_id(config, f"{BASE}/bookmarks/1")
    assert first != AS.stable_activity_id(config, f"{BASE}/bookmarks/2")


def test_actor_document_shape():
    owner = {"username": "owner", "display_name": "The Owner", "summary": "Links & notes.\n\nSecond <para>",
             "public_key_pem": "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n", "created_at": T0}
    doc = AS.actor_document(owner, cfg())
    assert doc["@context"][:2] == ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
    terms = doc["@context"][2]
    assert terms["manuallyApprovesFollowers"] == "as:manuallyApprovesFollowers"
    assert terms["discoverable"] == "toot:discoverable"
    assert doc["type"] == "Person" and doc["id"] == f"{BASE}/actor"
    assert doc["preferredUsername"] == "owner" and doc["name"] == "The Owner"
    assert doc["summary"] == "<p>Links &amp; notes.</p><p>Second &lt;para&gt;</p>"
    assert doc["url"] == f"{BASE}/"
    assert doc["inbox"] == f"{BASE}/actor/inbox" and doc["outbox"] == f"{BASE}/actor/outbox"
    assert doc["followers"] == FOLLOWERS and doc["following"] == f"{BASE}/actor/following"
    assert doc["endpoints"] == {"sharedInbox": f"{BASE}/inbox"}
    assert doc["publicKey"] == {"id": f"{BASE}/actor#main-key", "owner": f"{BASE}/actor",
                                "publicKeyPem": owner["public_key_pem"]}
    assert doc["manuallyApprovesFollowers"] is False
    assert doc["discoverable"] is True
    assert doc["published"] == "2026-03-02T09:30:00Z"
    assert doc["icon"] == {"type": "Image", "mediaType": "image/png", "url": f"{BASE}/static/avatar.png"}


def test_actor_follows_config_and_falls_back_to_username():
    owner = {"username": "owner", "display_name": "", "summary": "", "public_key_pem": "k",
             "created_at": T0, "icon_url": "https://links.test/static/me.png"}
    doc = AS.actor_document(owner, cfg(manually_approves_followers=True))
    assert doc["manuallyApprovesFollowers"] is True
    assert doc["name"] == "owner"
    assert doc["summary"] == ""
    assert doc["icon"] == {"type": "Image", "url": "https://links.test/static/me.png"}


# --- bookmarks --------------------------------------------------------------------------------------------


def test_bookmark_note_public():
    note = AS.bookmark_note(bookmark(), cfg())
    assert note["type"] == "Note"
    assert note["id"] == note["url"] == f"{BASE}/bookmarks/7"
    assert note["attributedTo"] == f"{BASE}/actor"
    assert note["to"] == [PUBLIC] and note["cc"] == [FOLLOWERS]
    assert note["name"] == "An <example>"
    assert note["sensitive"] is False
    assert "summary" not in note
    assert note["published"] == "2026-03-02T09:30:00Z"
    assert "updated" not in note  # created/updated microseconds apart is not an edit
    assert note["attachment"] == [{"type": "Link", "href": "https://example.org/a?b=1&c=2",
                                   "name": "An <example>", "mediaType": "text/html"}]
    content = note["content"]
    assert content.startswith('<p><a href="https://example.org/a?b=1&amp;c=2">An &lt;example&gt;</a></p>')
    assert "<p>Worth <em>reading</em>.</p>" in content
    assert "<blockquote><p>exact words<br>second line</p></blockquote>" in content
    assert (f'<a href="{BASE}/tags/web" class="mention hashtag" rel="tag">#<span>web</span></a>') in content
    assert note["tag"] == [{"type": "Hashtag", "href": f"{BASE}/tags/web", "name": "#web"},
                           {"type": "Hashtag", "href": f"{BASE}/tags/python", "name": "#python"}]
    assert first_link(note) == "https://example.org/a?b=1&c=2"


@pytest.mark.parametrize("visibility, to, cc", [
    ("public", [PUBLIC], [FOLLOWERS]),
    ("unlisted", [FOLLOWERS], [PUBLIC]),
    ("followers", [FOLLOWERS], []),
])
def test_bookmark_addressing_by_visibility(visibility, to, cc):
    note = AS.bookmark_note(bookmark(visibility=visibility), cfg())
    assert (note["to"], note["cc"]) == (to, cc)
    assert "summary" not in note


@pytest.mark.parametrize("visibility", ["private", "secret", None])
def test_private_bookmark_is_never_federated(visibility):
    with pytest.raises(AS.NotFederated):
        AS.bookmark_note(bookmark(visibility=visibility), cfg())


def test_bookmark_minimal_fields_and_edit():
    note = AS.bookmark_note(bookmark(title="", annotation_html="", quote="", tags_text="",
                                     updated_at=T0 + timedelta(hours=2)), cfg())
    assert note["name"] == "https://example.org/a?b=1&c=2"
    assert note["content"] == '<p><a href="https://example.org/a?b=1&amp;c=2">https://example.org/a?b=1&amp;c=2</a></p>'
    assert note["tag"] == []
    assert note["updated"] == "2026-03-02T11:30:00Z"


def test_bookmark_tags_list_wins_over_tags_text():
    note = AS.bookmark_note(bookmark(tags=["a.b"], tags_text="ignored"), cfg())
    assert [t["name"] for t in note["tag"]] == ["#a.b"]


def test_via_credit_mentions_original_author_on_public_items():
    note = AS.bookmark_note(bookmark(via_actor_uri="https://social.example/users/ann",
                                     via_post_uri="https://social.example/@ann/1"),
                            cfg(), via_handle="ann@social.example")
    assert note["cc"] == [FOLLOWERS, "https://social.example/users/ann"]
    assert {"type": "Mention", "href": "https://social.example/users/ann", "name": "@ann@social.example"} in note["tag"]
    assert ('<p><a href="https://social.example/@ann/1">via</a> <span class="h-card">'
            '<a href="https://social.example/users/ann" class="u-url mention">@<span>ann</span></a></span></p>'
            ) in note["content"]
    assert first_link(note) == "https://example.org/a?b=1&c=2"


def test_via_credit_without_handle_links_the_actor():
    note = AS.bookmark_note(bookmark(via_actor_uri="https://social.example/users/ann"), cfg())
    assert note["content"].endswith('<p>via <span class="h-card"><a href="https://social.example/users/ann" '
                                    'class="u-url mention">social.example/users/ann</a></span></p>')
    assert {"type": "Mention", "href": "https://social.example/users/ann",
            "name": "https://social.example/users/ann"} in note["tag"]


def test_via_on_followers_only_item_is_a_plain_link_not_a_mention():
    note = AS.bookmark_note(bookmark(visibility="followers", via_actor_uri="https://social.example/users/ann"),
                            cfg(), via_handle="@ann@social.example")
    assert note["cc"] == []
    assert all(t["type"] != "Mention" for t in note["tag"])
    assert '<p>via <a href="https://social.example/users/ann">@<span>ann</span></a></p>' in note["content"]
    assert "mention" not in note["content"].split("via", 1)[1]


# --- weeknotes --------------------------------------------------------------------------------------------


def test_weeknote_as_note_shows_the_whole_text():
    doc = AS.weeknote_object(weeknote(), cfg())
    assert doc["type"] == "Note"
    assert doc["id"] == doc["url"] == f"{BASE}/weeknotes/2026-W10"
    assert doc["name"] == "Busy week"
    assert doc["content"] == "<p><strong>Busy week</strong></p>" + "<p>Links and thoughts.</p>" * 3
    assert "summary" not in doc
    assert doc["to"] == [PUBLIC] and doc["cc"] == [FOLLOWERS]
    assert doc["attributedTo"] == f"{BASE}/actor"
    assert doc["published"] == "2026-03-02T09:30:00Z"
    assert "updated" not in doc


def test_weeknote_as_article_has_a_preview_summary():
    body = "<p>" + "word " * 200 + "</p><p>end</p>"
    doc = AS.weeknote_object(weeknote(body_html=body, title="", visibility="unlisted",
                                      updated_at=T0 + timedelta(days=1)), cfg(weeknote_type="Article"))
    assert doc["type"] == "Article"
    assert doc["name"] == "Week 10, 2026"
    assert doc["content"] == body
    assert doc["url"] == f"{BASE}/weeknotes/2026-W10"
    assert doc["summary"].startswith("word word") and doc["summary"].endswith("…")
    assert len(doc["summary"]) <= AS.SUMMARY_CHARS + 1
    assert "<" not in doc["summary"]
    assert doc["to"] == [FOLLOWERS] and doc["cc"] == [PUBLIC]
    assert doc["updated"] == "2026-03-03T09:30:00Z"


def test_short_article_summary_is_the_escaped_text():
    doc = AS.weeknote_object(weeknote(body_html="<p>Fish &amp; chips</p><p>then <b>tea</b></p>"),
                             cfg(weeknote_type="Article"))
    assert doc["summary"] == "Fish &amp; chips then tea"


@pytest.mark.parametrize("fields", [{"status": "draft"}, {"visibility": "private"}])
def test_drafts_and_private_weeknotes_are_never_federated(fields):
    with pytest.raises(AS.NotFederated):
        AS.weeknote_object(weeknote(**fields), cfg())


# --- collections ------------------------------------------------------------------------------------------


def test_outbox_collection_and_page():
    collection = AS.outbox_collection(cfg(), 42, f"{BASE}/actor/outbox?page=true")
    assert collection == {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{BASE}/actor/outbox",
                          "type": "OrderedCollection", "totalItems": 42,
                          "first": f"{BASE}/actor/outbox?page=true"}
    item = create(AS.bookmark_note(bookmark(), cfg()), cfg())
    page = AS.outbox_page(f"{BASE}/actor/outbox?page=true", [item], part_of=f"{BASE}/actor/outbox",
                          next_url=f"{BASE}/actor/outbox?page=true&before=x")
    assert page["type"] == "OrderedCollectionPage" and page["partOf"] == f"{BASE}/actor/outbox"
    assert page["next"].endswith("before=x") and "prev" not in page
    assert page["orderedItems"][0]["id"] == item["id"] and "@context" not in page["orderedItems"][0]
    assert AS.outbox_page("p", [], part_of="o", prev_url="q")["prev"] == "q"


def test_followers_collection_with_and_without_members():
    hidden = AS.collection(FOLLOWERS, 3)
    assert hidden["totalItems"] == 3 and hidden["type"] == "OrderedCollection"
    assert "first" not in hidden and "orderedItems" not in hidden
    shown = AS.collection(FOLLOWERS, 3, first=f"{FOLLOWERS}?page=true")
    assert shown["first"] == f"{FOLLOWERS}?page=true"
    page = AS.collection_page(f"{FOLLOWERS}?page=true", ["https://a.example/u/1"], part_of=FOLLOWERS)
    assert page["orderedItems"] == ["https://a.example/u/1"] and page["partOf"] == FOLLOWERS


def test_tombstone():
    doc = AS.tombstone(f"{BASE}/bookmarks/7", "Note", T0)
    assert doc == {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{BASE}/bookmarks/7",
                   "type": "Tombstone", "formerType": "Note", "deleted": "2026-03-02T09:30:00Z"}
