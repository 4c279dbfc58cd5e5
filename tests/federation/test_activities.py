"""The pure AS2 builders of the activities we send: no app, no database."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.federation.documents_support import BASE, FOLLOWERS, PUBLIC, T0, assert_activity_id, bookmark, cfg
from linkblog.federation import activities as AS
from linkblog.federation.objects import bookmark_note


def test_create_wraps_object_with_its_addressing():
    note = bookmark_note(bookmark(visibility="unlisted"), cfg())
    activity = AS.create(note, cfg())
    assert activity["type"] == "Create"
    assert_activity_id(activity["id"])
    assert activity["actor"] == f"{BASE}/actor"
    assert activity["@context"] == note["@context"]
    assert activity["to"] == [FOLLOWERS] and activity["cc"] == [PUBLIC]
    assert activity["published"] == note["published"]
    assert "@context" not in activity["object"]
    assert activity["object"]["id"] == note["id"]
    assert AS.create(note, cfg(), activity_id=f"{BASE}/activities/x")["id"] == f"{BASE}/activities/x"


def test_update_always_carries_an_updated_time():
    note = bookmark_note(bookmark(), cfg())
    activity = AS.update(note, cfg(), now=T0 + timedelta(days=2))
    assert activity["type"] == "Update"
    assert_activity_id(activity["id"])
    assert activity["object"]["updated"] == activity["published"] == "2026-03-04T09:30:00Z"
    assert activity["to"] == [PUBLIC] and activity["cc"] == [FOLLOWERS]
    edited = bookmark_note(bookmark(updated_at=T0 + timedelta(hours=1)), cfg())
    assert AS.update(edited, cfg())["object"]["updated"] == "2026-03-02T10:30:00Z"


def test_delete_sends_a_tombstone_to_the_original_audience():
    activity = AS.delete(f"{BASE}/bookmarks/7", cfg(), former_type="Note", now=T0)
    assert activity["type"] == "Delete"
    assert_activity_id(activity["id"])
    assert activity["object"] == {"id": f"{BASE}/bookmarks/7", "type": "Tombstone", "formerType": "Note"}
    assert activity["to"] == [PUBLIC] and activity["cc"] == [FOLLOWERS]
    assert AS.delete("x", cfg(), visibility="unlisted")["to"] == [PUBLIC]
    followers_only = AS.delete("x", cfg(), visibility="followers")
    assert followers_only["to"] == [FOLLOWERS] and followers_only["cc"] == []
    with pytest.raises(AS.NotFederated):
        AS.delete("x", cfg(), visibility="private")


def test_accept_and_reject_embed_the_follow():
    inbound = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://social.example/f/1",
               "type": "Follow", "actor": {"id": "https://social.example/users/ann", "type": "Person"},
               "object": f"{BASE}/actor", "signature": {"type": "RsaSignature2017"}}
    for builder, kind in ((AS.accept, "Accept"), (AS.reject, "Reject")):
        activity = builder(inbound, cfg())
        assert activity["type"] == kind
        assert_activity_id(activity["id"])
        assert activity["actor"] == f"{BASE}/actor"
        assert activity["to"] == ["https://social.example/users/ann"]
        assert activity["object"] == {"id": "https://social.example/f/1", "type": "Follow",
                                      "actor": "https://social.example/users/ann", "object": f"{BASE}/actor"}
    by_id = AS.accept("https://social.example/f/1", cfg())
    assert by_id["object"] == "https://social.example/f/1" and by_id["to"] == []


def test_follow_and_undo():
    target = "https://social.example/users/ann"
    follow = AS.follow(target, cfg())
    assert follow["type"] == "Follow" and follow["object"] == target and follow["to"] == [target]
    assert_activity_id(follow["id"])
    undo = AS.undo(follow, cfg())
    assert undo["type"] == "Undo"
    assert undo["id"] != follow["id"]
    assert undo["object"]["id"] == follow["id"] and undo["object"]["type"] == "Follow"
    assert "@context" not in undo["object"]
    assert undo["to"] == [target]


def test_like_and_announce():
    post, author = "https://social.example/users/ann/statuses/1", "https://social.example/users/ann"
    like = AS.like(post, cfg(), object_actor=author)
    assert (like["type"], like["object"], like["to"]) == ("Like", post, [author])
    assert AS.like(post, cfg())["to"] == []
    boost = AS.announce(post, cfg(), object_actor=author, now=T0)
    assert (boost["type"], boost["object"], boost["to"]) == ("Announce", post, [PUBLIC])
    assert boost["cc"] == [FOLLOWERS, author]
    assert boost["published"] == "2026-03-02T09:30:00Z"
    assert_activity_id(boost["id"])
