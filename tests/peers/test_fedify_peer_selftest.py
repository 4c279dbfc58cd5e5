"""The Fedify peer against itself: two peers, alice and bob, federate through their control
APIs, each with Fedify's signature verification on.  This proves the peer works before
linkblog's own federation is there to be tested against it."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.federation

ACCEPT_AP = "application/activity+json"


def _get(url: str, accept: str | None = ACCEPT_AP) -> tuple[int, str, dict | None]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with opener.open(request, timeout=10) as response:
            body = response.read()
            ctype = response.headers.get("Content-Type", "")
            return response.status, ctype, json.loads(body) if "json" in ctype else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), None


def test_two_peers_follow_like_reply(fedify_peers) -> None:
    alice = fedify_peers("alice")
    # bob signs with draft-cavage first, alice with RFC 9421 first: both specs get verified.
    bob = fedify_peers("bob", first_knock="draft-cavage-http-signatures-12")
    assert alice.port != bob.port

    # The actor document, WebFinger and the static Note, as another server sees them.
    status, ctype, actor = _get(bob.actor_url)
    assert status == 200 and ctype.startswith(ACCEPT_AP)
    assert actor["id"] == bob.actor_url and actor["type"] == "Person"
    assert actor["inbox"] == bob.inbox_url
    assert actor["endpoints"]["sharedInbox"] == bob.shared_inbox_url
    assert actor["publicKey"]["owner"] == bob.actor_url
    assert "BEGIN PUBLIC KEY" in actor["publicKey"]["publicKeyPem"]
    assert _get(bob.actor_url, accept=None)[0] == 406  # Fedify wants an ActivityPub Accept
    status, _, jrd = _get(f"{bob.base_url}/.well-known/webfinger?resource=acct:{bob.handle}", accept=None)
    assert status == 200
    assert {"rel": "self", "href": bob.actor_url, "type": ACCEPT_AP} in jrd["links"]
    status, _, note = _get(bob.note_url)
    assert status == 200 and note["type"] == "Note" and note["attributedTo"] == bob.actor_url

    # alice follows bob (by handle, through the peer's own http WebFinger).
    follow = alice.follow(bob.handle)
    assert follow["ok"] and follow["sent"]["inbox"] == bob.inbox_url
    received = bob.wait_for("Follow")
    assert received["verified"] is True and received["status"] == 202
    assert received["httpSignature"]["status"] == "verified"
    assert received["httpSignature"]["keyId"].startswith(alice.actor_url)
    assert received["httpSignature"]["owner"] == alice.actor_url
    assert received["signature"] == "rfc9421"  # alice's first knock, accepted by bob
    assert received["actor"] == alice.actor_url
    assert received["activity"]["object"] == bob.actor_url
    assert received["id"] == follow["sent"]["id"]

    accept = alice.wait_for("Accept")
    assert accept["verified"] is True and accept["actor"] == bob.actor_url
    assert accept["httpSignature"]["status"] == "verified"
    assert accept["signature"] == "draft-cavage-http-signatures-12"
    accepted_follow = accept["activity"]["object"]
    assert (accepted_follow["id"] if isinstance(accepted_follow, dict) else accepted_follow) == follow["sent"]["id"]
    alice.wait_following(bob.actor_url, "accepted")
    assert [f["actor"] for f in bob.followers()] == [alice.actor_url]
    followers = alice.lookup(bob.followers_url)
    assert followers["totalItems"] == 1

    # alice likes and replies to bob's note; bob records both, verified.
    like = alice.like(bob.note_url, bob.actor_url)
    got_like = bob.wait_for("Like")
    assert got_like["id"] == like["sent"]["id"]
    assert got_like["activity"]["object"] == bob.note_url
    assert got_like["httpSignature"]["status"] == "verified"

    reply = alice.reply(bob.note_url, "<p>Nice note, bob!</p>", bob.actor_url)
    got_create = bob.wait_for("Create")
    note = got_create["activity"]["object"]
    assert note["type"] == "Note" and note["id"] == reply["note"]
    assert note["inReplyTo"] == bob.note_url
    assert note["content"] == "<p>Nice note, bob!</p>"
    assert note["attributedTo"] == alice.actor_url
    assert "https://www.w3.org/ns/activitystreams#Public" in _as_list(got_create["activity"]["to"]) \
        or "as:Public" in _as_list(got_create["activity"]["to"])
    assert bob.actor_url in _as_list(got_create["activity"]["cc"])
    # The reply is dereferenceable, and bob can fetch it with a signed GET.
    fetched = bob.lookup(reply["note"])
    assert fetched["id"] == reply["note"] and fetched["inReplyTo"] == bob.note_url

    # A delivery without a valid signature is refused and recorded with Fedify's reason.
    forged = json.dumps({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{alice.base_url}/forged/1", "type": "Like",
        "actor": alice.actor_url, "object": bob.note_url,
    }).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(bob.shared_inbox_url, data=forged, method="POST",
                                     headers={"Content-Type": ACCEPT_AP})
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    assert refused.value.code == 401
    [rejected] = bob.rejected()
    assert rejected["id"] == f"{alice.base_url}/forged/1" and rejected["verified"] is False
    assert rejected["httpSignature"]["status"] == "absent"

    # Unfollow: bob forgets alice.
    alice.unfollow(bob.actor_url)
    bob.wait_for("Undo")
    assert bob.followers() == []



def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]
