"""The ActivityStreams 2.0 objects we publish: our ids, the actor, notes, weeknotes, tombstones and our
collections. The activities that carry them are built in :mod:`.activities`; reading what other servers
send is :mod:`.reading`'s job.

Pure on purpose: plain data (dicts, rows, dataclasses) in, JSON-ready dicts out; no database, Flask or
HTTP. Serving our documents, publishing, the inbox and the delivery worker all build the same shapes
through this module, and its tests need no app.

Choices that follow how Mastodon reads our documents:

* A Note never carries ``summary``: Mastodon shows it as a content warning that hides the post.
* A bookmark is a ``Note`` (Mastodon shows a Note's whole ``content``) plus a ``Link`` attachment with
  the bookmarked URL, as Betula and Postmarks do; Mastodon skips attachments without ``url`` so the
  Link costs nothing there, while link-aware readers (and :func:`.reading.first_link`) find the URL directly.
* Addressing: public is to Public, cc followers; unlisted is to followers, cc Public; followers-only is
  to followers alone; private never leaves the server (:class:`NotFederated`).
"""
from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from ..dates import rfc3339
from ..states import Visibility, WeeknoteStatus
from .reading import PUBLIC, text_excerpt

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
        "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    },
]
OBJECT_CONTEXT: list[Any] = [AS_CONTEXT, {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag"}]
FEDERATED = (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.FOLLOWERS)
EDIT_TOLERANCE = timedelta(seconds=1)  # created_at and updated_at come from two utcnow() calls
SUMMARY_CHARS = 280  # an Article's plain-text preview (Mastodon shows it as text under the title)


class NotFederated(ValueError):
    """The item must never leave the server: private, a draft, or an unknown visibility."""


# --- Ids ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Urls:
    """Every id we mint, derived from ``base_url`` alone so they stay stable across restarts."""

    base: str

    @property
    def actor(self) -> str:
        return f"{self.base}/actor"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    @property
    def inbox(self) -> str:
        return f"{self.actor}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def outbox(self) -> str:
        return f"{self.actor}/outbox"

    @property
    def followers(self) -> str:
        return f"{self.actor}/followers"

    @property
    def following(self) -> str:
        return f"{self.actor}/following"

    @property
    def profile(self) -> str:
        return f"{self.base}/"

    def bookmark(self, bookmark_id: int | str) -> str:
        return f"{self.base}/bookmarks/{bookmark_id}"

    def weeknote(self, week: str) -> str:
        return f"{self.base}/weeknotes/{week}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{quote(name, safe='+')}"

    def activity(self, key: uuid.UUID | str | None = None) -> str:
        return f"{self.base}/activities/{key or uuid.uuid4()}"


def urls(config: Any) -> Urls:
    """``config`` is a :class:`linkblog.config.Config` (or anything with ``base_url``)."""
    return Urls(config.base_url.rstrip("/"))


def stable_activity_id(config: Any, object_id: str, kind: str = "Create") -> str:
    """A deterministic activity id for an object, for activities rebuilt on the fly (the outbox)."""
    return urls(config).activity(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind} {object_id}"))


# --- Small pure helpers ---------------------------------------------------------------------------------


def _field(item: Any, name: str, default: Any = None) -> Any:
    """Read a field from a dict, a SQLAlchemy row/mapping or a dataclass alike."""
    if isinstance(item, Mapping):
        return item.get(name, default)
    mapping = getattr(item, "_mapping", None)
    if mapping is not None:
        return mapping.get(name, default)
    return getattr(item, name, default)


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC (naive datetimes are stored as UTC), to the second, as Mastodon writes it."""
    return None if moment is None else rfc3339(moment)


def _edited(created: datetime | None, updated: datetime | None) -> bool:
    return created is not None and updated is not None and updated - created >= EDIT_TOLERANCE


def _esc(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def _paragraphs(text: str) -> str:
    """Plain text to HTML paragraphs (blank line = new paragraph, newline = <br>)."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    return "".join("<p>" + "<br>".join(_esc(line) for line in block.split("\n")) + "</p>" for block in blocks)


def addressing(visibility: str, config: Any) -> tuple[list[str], list[str]]:
    """(to, cc) for an item of this visibility; private (or anything unknown) raises NotFederated."""
    followers = urls(config).followers
    if visibility == Visibility.PUBLIC:
        return [PUBLIC], [followers]
    if visibility == Visibility.UNLISTED:
        return [followers], [PUBLIC]
    if visibility == Visibility.FOLLOWERS:
        return [followers], []
    raise NotFederated(f"{visibility!r} items are never federated")


def _document(context: Any, body: dict[str, Any]) -> dict[str, Any]:
    return {"@context": context, **body}


def without_context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its ``@context``, for embedding in another document."""
    return {k: v for k, v in doc.items() if k != "@context"}


# --- Actor ----------------------------------------------------------------------------------------------


def actor_document(owner: Any, config: Any) -> dict[str, Any]:
    """The owner's Person. Follower/following counts are not part of an actor: readers take them from
    the collections. The bio is ``owner.summary_html`` (Markdown rendered and sanitised when saved); a row
    without it has ``summary`` as plain text, turned into escaped HTML paragraphs. ``config`` is best the
    merged ``settings.Settings``, so a follow-approval choice made on the settings page shows."""
    u = urls(config)
    username = _field(owner, "username")
    doc = _document(ACTOR_CONTEXT, {
        "id": u.actor,
        "type": "Person",
        "preferredUsername": username,
        "name": _field(owner, "display_name") or username,
        "summary": _field(owner, "summary_html") or _paragraphs(_field(owner, "summary") or ""),
        "url": u.profile,
        "inbox": u.inbox,
        "outbox": u.outbox,
        "followers": u.followers,
        "following": u.following,
        "endpoints": {"sharedInbox": u.shared_inbox},
        "publicKey": {"id": u.key_id, "owner": u.actor, "publicKeyPem": _field(owner, "public_key_pem")},
        "manuallyApprovesFollowers": bool(config.get("federation", "manually_approves_followers")),
        "discoverable": True,
        "indexable": True,
    })
    digest, icon = _field(owner, "avatar_digest"), _field(owner, "icon_url")
    doc["icon"] = ({"type": "Image", "mediaType": _field(owner, "avatar_type") or "image/jpeg",
                    "url": f"{u.base}/avatar/{digest}"} if digest else
                   {"type": "Image", "url": icon} if icon else
                   # else the shipped default (PNG: Mastodon takes no SVG)
                   {"type": "Image", "mediaType": "image/png", "url": f"{u.base}/static/avatar.png"})
    published = iso(_field(owner, "created_at"))
    if published:
        doc["published"] = published
    aliases = split_aliases(_field(owner, "also_known_as"))
    if aliases:  # servers check this before honouring a Move from one of these accounts to us
        doc["alsoKnownAs"] = aliases
    moved_to = _field(owner, "moved_to")
    if moved_to:
        doc["movedTo"] = moved_to
    return doc


def split_aliases(stored: str | None) -> list[str]:
    """``owner.also_known_as`` (one actor id per line) as a list, blank lines dropped, order kept."""
    return [line.strip() for line in (stored or "").splitlines() if line.strip()]


# --- Objects --------------------------------------------------------------------------------------------


def _tags_of(bookmark: Any) -> list[str]:
    tags = _field(bookmark, "tags")
    if tags is None:
        tags = (_field(bookmark, "tags_text") or "").split()
    return [t for t in tags if t]


def _hashtag_link(u: Urls, name: str) -> str:
    return f'<a href="{_esc(u.tag(name))}" class="mention hashtag" rel="tag">#<span>{_esc(name)}</span></a>'


def _via_credit(actor_uri: str, post_uri: str | None, handle: str | None, mention: bool) -> str:
    """"via @user@host": a Mastodon-style mention (h-card) when ``mention``, else a plain profile link."""
    via = f'<a href="{_esc(post_uri)}">via</a>' if post_uri else "via"
    if handle:
        user = handle.lstrip("@").split("@", 1)[0]
        label = f"@<span>{_esc(user)}</span>"
    else:
        parts = urlsplit(actor_uri)
        label = _esc(parts.netloc + parts.path)
    if mention:
        return f'<p>{via} <span class="h-card"><a href="{_esc(actor_uri)}" class="u-url mention">{label}</a></span></p>'
    return f'<p>{via} <a href="{_esc(actor_uri)}">{label}</a></p>'


def bookmark_note(bookmark: Any, config: Any, *, via_handle: str | None = None) -> dict[str, Any]:
    """A bookmark as a Note whose id is its permalink.

    ``bookmark`` needs id, url, title, annotation_html (already sanitised), quote, tags (or
    tags_text), visibility, created_at, updated_at and optionally via_actor_uri/via_post_uri;
    ``via_handle`` ("user@host") names the via author. For public/unlisted items the via author gets
    a Mention tag and is cc'd (Mastodon notifies them); a followers-only item only links to them, since
    a Mention would show the post to someone outside the audience.
    """
    visibility = _field(bookmark, "visibility")
    to, cc = addressing(visibility, config)
    u = urls(config)
    permalink = u.bookmark(_field(bookmark, "id"))
    link = _field(bookmark, "url")
    title = (_field(bookmark, "title") or "").strip() or link
    tags = _tags_of(bookmark)

    parts = [f'<p><a href="{_esc(link)}">{_esc(title)}</a></p>']
    annotation = (_field(bookmark, "annotation_html") or "").strip()
    if annotation:
        parts.append(annotation)
    quote_text = (_field(bookmark, "quote") or "").strip()
    if quote_text:
        parts.append(f"<blockquote>{_paragraphs(quote_text)}</blockquote>")
    if tags:
        parts.append("<p>" + " ".join(_hashtag_link(u, t) for t in tags) + "</p>")

    tag_objects: list[dict[str, Any]] = [{"type": "Hashtag", "href": u.tag(t), "name": f"#{t}"} for t in tags]
    via_actor = _field(bookmark, "via_actor_uri")
    if via_actor:
        mention = visibility != Visibility.FOLLOWERS
        parts.append(_via_credit(via_actor, _field(bookmark, "via_post_uri"), via_handle, mention))
        if mention:
            name = "@" + via_handle.lstrip("@") if via_handle else via_actor
            tag_objects.append({"type": "Mention", "href": via_actor, "name": name})
            cc = cc + [via_actor]

    created, updated = _field(bookmark, "created_at"), _field(bookmark, "updated_at")
    note = _document(OBJECT_CONTEXT, {
        "id": permalink,
        "type": "Note",
        "attributedTo": u.actor,
        "name": title,
        "content": "".join(parts),
        "url": permalink,
        "published": iso(created),
        "to": to,
        "cc": cc,
        "sensitive": False,
        "attachment": [{"type": "Link", "href": link, "name": title, "mediaType": "text/html"}],
        "tag": tag_objects,
    })
    if _edited(created, updated):
        note["updated"] = iso(updated)
    return note


def _week_title(week: str) -> str:
    year, _, number = week.partition("-W")
    return f"Week {int(number)}, {year}" if number.isdigit() else week


def weeknote_object(weeknote: Any, config: Any) -> dict[str, Any]:
    """A published weeknote, shaped by ``[federation] weeknote_type``.

    * "Note" (default): Mastodon shows a Note's whole ``content``, so the title leads as
      ``<p><strong>…</strong></p>`` followed by the body; ``name`` carries the title for other readers.
      No ``summary`` (it would become a content warning).
    * "Article": Mastodon treats Article as a "converted" type: it ignores ``content`` and shows
      ``name`` as a heading, then ``summary``, then a link to ``url`` (since mastodon/mastodon#9823 a
      converted object's summary is shown as text, not as a content warning). So an Article carries
      the full ``content`` for readers that render it, and a short plain-text ``summary`` (the start of
      the body) as Mastodon's preview.
    """
    if _field(weeknote, "status") != WeeknoteStatus.PUBLISHED:
        raise NotFederated("drafts are never federated")
    to, cc = addressing(_field(weeknote, "visibility"), config)
    u = urls(config)
    week = _field(weeknote, "week")
    permalink = u.weeknote(week)
    title = (_field(weeknote, "title") or "").strip() or _week_title(week)
    body = _field(weeknote, "body_html") or ""
    kind = config.get("federation", "weeknote_type")
    published = _field(weeknote, "published_at") or _field(weeknote, "created_at")
    updated = _field(weeknote, "updated_at")
    doc = _document(OBJECT_CONTEXT, {
        "id": permalink,
        "type": kind,
        "attributedTo": u.actor,
        "name": title,
        "content": f"<p><strong>{_esc(title)}</strong></p>{body}" if kind == "Note" else body,
        "url": permalink,
        "published": iso(published),
        "to": to,
        "cc": cc,
        "sensitive": False,
    })
    if kind == "Article":
        doc["summary"] = _esc(text_excerpt(body, SUMMARY_CHARS))
    if _edited(published, updated):
        doc["updated"] = iso(updated)
    return doc


def tombstone(object_id: str, former_type: str, deleted: datetime | None = None) -> dict[str, Any]:
    """What a deleted object's id answers (with 410 Gone)."""
    doc = _document(AS_CONTEXT, {"id": object_id, "type": "Tombstone", "formerType": former_type})
    if deleted is not None:
        doc["deleted"] = iso(deleted)
    return doc


# --- Collections ----------------------------------------------------------------------------------------


def outbox_collection(config: Any, total: int, first_url: str) -> dict[str, Any]:
    """The outbox itself: a count and the first page's URL (pages are fetched separately)."""
    return _document(AS_CONTEXT, {"id": urls(config).outbox, "type": "OrderedCollection",
                                  "totalItems": total, "first": first_url})


def outbox_page(page_id: str, items: Iterable[Mapping[str, Any]], *, part_of: str,
                next_url: str | None = None, prev_url: str | None = None) -> dict[str, Any]:
    """One page of activities, newest first; items lose their own ``@context``."""
    doc = _document(OBJECT_CONTEXT, {"id": page_id, "type": "OrderedCollectionPage", "partOf": part_of,
                                     "orderedItems": [without_context(i) for i in items]})
    if next_url:
        doc["next"] = next_url
    if prev_url:
        doc["prev"] = prev_url
    return doc


def collection(collection_id: str, total: int, first: str | None = None) -> dict[str, Any]:
    """Followers/following: always the count; ``first`` only when members are published."""
    doc = _document(AS_CONTEXT, {"id": collection_id, "type": "OrderedCollection", "totalItems": total})
    if first:
        doc["first"] = first
    return doc


def collection_page(page_id: str, members: Iterable[str], *, part_of: str, total: int | None = None,
                    next_url: str | None = None) -> dict[str, Any]:
    """A page of actor ids (only served when ``publish_collections`` is on)."""
    doc = _document(AS_CONTEXT, {"id": page_id, "type": "OrderedCollectionPage", "partOf": part_of,
                                 "orderedItems": list(members)})
    if total is not None:
        doc["totalItems"] = total
    if next_url:
        doc["next"] = next_url
    return doc
