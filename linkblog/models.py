"""Typed SQLAlchemy models. Every item has a stable integer id, created/updated times and a visibility."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Table, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from .db import Base, utcnow
from .states import (CopyState, DeliveryState, FollowState, InboxState, InteractionState, LinkState, Visibility,
                     WeeknoteStatus)

URL_MAX = 2048
TITLE_MAX = 500
TAG_MAX = 64
ANNOTATION_MAX = 20_000
QUOTE_MAX = 5_000
WEEKNOTE_MAX = 100_000


class Owner(Base):
    """The single owner: login, profile and the actor's RSA key pair."""

    __tablename__ = "owner"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")  # the bio, Markdown as the owner wrote it
    summary_html: Mapped[str] = mapped_column(Text, default="", server_default="")  # rendered and sanitised
    # The current avatar (a row of ``avatars``); None shows the shipped default.
    avatar_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    session_epoch: Mapped[int] = mapped_column(Integer, default=1)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_key_pem: Mapped[str] = mapped_column(Text)
    # Other accounts that are also the owner (actor ids, one per line): a Move from one of them is honoured.
    also_known_as: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Set once the owner has moved to another account (the actor then carries movedTo).
    moved_to: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    moved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The last add, change or delete of any bookmark (a delete leaves no row to date it): /v1/posts/update.
    bookmarks_changed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """A site setting the owner saved from /admin/settings; it wins over config.toml (``settings.py``).
    ``key`` is ``section.key`` as in config.toml, ``value`` its JSON."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Avatar(Base):
    """The owner's avatar as served: resized, re-encoded, metadata stripped. Named by the SHA-256 of its
    bytes, so its URL changes with it and can be cached for ever."""

    __tablename__ = "avatars"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Bookmark(Base):
    __tablename__ = "bookmarks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    annotation: Mapped[str] = mapped_column(Text, default="")
    annotation_html: Mapped[str] = mapped_column(Text, default="")
    quote: Mapped[str] = mapped_column(Text, default="")
    tags_text: Mapped[str] = mapped_column(Text, default="")  # space-separated, for display and search
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.PUBLIC)
    toread: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Filed away by the owner (linkding's is_archived): off the owner's home and reading list, still public if
    # it was; like toread, the owner's own state, never federated and never moving updated_at.
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Saved from someone's post on the network page: credited (and mentioned) when federated.
    via_actor_uri: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    via_post_uri: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)

    __table_args__ = (
        Index("ix_bookmarks_visibility_created", "visibility", "created_at", "id"),
        Index("ix_bookmarks_created", "created_at", "id"),
        # the owner's reading list, archived ones left out
        Index("ix_bookmarks_toread_created", "toread", "archived", "created_at", "id"),
        Index("ix_bookmarks_archived_created", "archived", "created_at", "id"),  # the owner's home, the archive
        Index("ix_bookmarks_updated", "updated_at"),  # the last change, which sync apps poll (/v1/posts/update)
        # Ids are ActivityPub ids: SQLite must never hand a deleted bookmark's id to a new one.
        {"sqlite_autoincrement": True},
    )


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TAG_MAX), unique=True)


class BookmarkTag(Base):
    """Join row; ``listed`` and ``created_at`` copy the bookmark's so a tag page is one index range."""

    __tablename__ = "bookmark_tags"
    bookmark_id: Mapped[int] = mapped_column(ForeignKey("bookmarks.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_bookmark_tags_tag_listed_created", "tag_id", "listed", "created_at", "bookmark_id"),)


class Weeknote(Base):
    __tablename__ = "weeknotes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(8), unique=True)  # ISO week, e.g. 2026-W47
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=WeeknoteStatus.DRAFT)
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.PUBLIC)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_weeknotes_status_visibility_published", "status", "visibility", "published_at", "id"),)


class ApiToken(Base):
    """Bearer tokens for scripts; only a SHA-256 of the token is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Made for Pinboard apps, which send it as ?auth_token=: accepted in a query string on /v1/ only.
    query_string_allowed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (UniqueConstraint("name", name="uq_api_tokens_name"),)


class LoginFailure(Base):
    """One row per failed login, so every web process shares the rate limit."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The rate-limit key: the IPv4 address, or the IPv6 /64 network (one household or server has a whole /64).
    address: Mapped[str] = mapped_column(String(64))
    # The owner's user name was given: counts toward the per-account limit, whatever the address.
    account: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),
                      Index("ix_login_failures_account_at", "account", "at"))


class OwnerSession(Base):
    """One row per logged-in browser: the session cookie names its row, so logging out (here or everywhere)
    ends the session on the server too, and a copied cookie stops working."""

    __tablename__ = "owner_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 (hex) of the cookie's session token
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# --- Federation -------------------------------------------------------------------------------------------


class RemoteActor(Base):
    """A fediverse account we have met: its inboxes and its public key (the key cache)."""

    __tablename__ = "remote_actors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    inbox: Mapped[str] = mapped_column(String(URL_MAX), default="")
    shared_inbox: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    handle: Mapped[str] = mapped_column(String(300), default="")  # user@host
    display_name: Mapped[str] = mapped_column(String(500), default="")
    url: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    icon_url: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True, unique=True)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    moved_to: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Follower(Base):
    """Someone following the owner; ``state`` is pending (awaiting approval) or accepted."""

    __tablename__ = "followers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("remote_actors.id", ondelete="CASCADE"), unique=True)
    follow_uri: Mapped[str] = mapped_column(String(URL_MAX))
    state: Mapped[str] = mapped_column(String(16), default=FollowState.PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Following(Base):
    """Someone the owner follows; ``state`` is pending until their server sends Accept."""

    __tablename__ = "following"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("remote_actors.id", ondelete="CASCADE"), unique=True)
    follow_uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=FollowState.PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BlockedActor(Base):
    __tablename__ = "blocked_actors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OutboxActivity(Base):
    """An activity we sent (or will send); its JSON is kept so deliveries and the outbox replay it exactly."""

    __tablename__ = "outbox_activities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    object_uri: Mapped[str] = mapped_column(String(URL_MAX), default="")
    payload: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_outbox_activities_public_id", "public", "id"),)


class Delivery(Base):
    """One row per (activity, inbox), written in the same transaction as the change that caused it."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("outbox_activities.id", ondelete="CASCADE"))
    inbox: Mapped[str] = mapped_column(String(URL_MAX))
    host: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("activity_id", "inbox", name="uq_deliveries_activity_inbox"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_deliveries_state_updated", "state", "updated_at"),  # pruning finished rows
    )


class RemoteHost(Base):
    """Delivery health per host: one that has failed for days is skipped until it recovers or writes to us."""

    __tablename__ = "remote_hosts"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    unavailable: Mapped[bool] = mapped_column(Boolean, default=False)


# Partial-index conditions, spelled once for the models and migration 0005 (both databases accept them).
INBOX_WITH_PAYLOAD = "payload != ''"
ONE_PER_ACTOR_KINDS = "kind IN ('like', 'announce')"


class InboxActivity(Base):
    """A verified inbound activity, stored before the 202; the id makes a second delivery a no-op.
    Once processed its ``payload`` is emptied after a while and the row (the id) deleted later still
    (``federation.retention``)."""

    __tablename__ = "inbox_activities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    actor_uri: Mapped[str] = mapped_column(String(URL_MAX))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=InboxState.QUEUED)
    error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        Index("ix_inbox_activities_state_id", "state", "id"),
        Index("ix_inbox_activities_received", "received_at", "id"),  # deleting old ids
        # Only rows whose body is still kept: emptying old bodies never rescans the emptied ones.
        Index("ix_inbox_activities_payload_received", "received_at", "id",
              sqlite_where=text(INBOX_WITH_PAYLOAD), postgresql_where=text(INBOX_WITH_PAYLOAD)),
    )


class Interaction(Base):
    """A like, boost or reply on one of our items (replies to replies point at the reply they answer)."""

    __tablename__ = "interactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # like | announce | reply
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)  # the Like/Announce id, or the reply Note id
    activity_uri: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("remote_actors.id", ondelete="CASCADE"))
    target_kind: Mapped[str] = mapped_column(String(1))  # b (bookmark) | w (weeknote)
    target_id: Mapped[int] = mapped_column(Integer)
    in_reply_to: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    content_html: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=InteractionState.VISIBLE)
    published: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_interactions_target", "target_kind", "target_id", "kind", "published"),
        Index("ix_interactions_published", "published", "id"),  # /admin/interactions, newest first
        # One like and one boost per actor and item, however many activity ids they send.
        Index("uq_interactions_one_per_actor", "actor_id", "kind", "target_kind", "target_id", unique=True,
              sqlite_where=text(ONE_PER_ACTOR_KINDS), postgresql_where=text(ONE_PER_ACTOR_KINDS)),
    )


class InboxRate(Base):
    """Inbox POSTs per remote host in one fixed window: in the database, so every web process shares the
    count (``federation.throttle``); windows that are over are deleted by the prune."""

    __tablename__ = "inbox_rates"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Tombstone(Base):
    """What was deleted, so its id answers 410 with a Tombstone instead of a bare 404."""

    __tablename__ = "tombstones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    former_type: Mapped[str] = mapped_column(String(32))
    deleted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RemotePost(Base):
    """A post with a link from someone the owner follows, for the network page."""

    __tablename__ = "remote_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(URL_MAX), unique=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("remote_actors.id", ondelete="CASCADE"))
    link_url: Mapped[str] = mapped_column(String(URL_MAX))
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    published: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_remote_posts_published", "published", "id"),)


class WorkerHealth(Base):
    """One row per worker process (``host:pid``), written by the worker itself: the owner's delivery page
    shows when a worker last looked for work and last did some, so a stopped worker does not go unnoticed."""

    __tablename__ = "worker_health"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # host name and process id
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # its loop last ran (idle or not)
    progress_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # it last delivered or processed

    __table_args__ = (Index("ix_worker_health_beat", "beat_at"),)


class LinkCheck(Base):
    """What the worker's link checks found for one bookmark (``links/checks.py``); no row: not checked yet.
    ``fingerprint`` is a compact sketch of the page text at the first good check, the reference a later
    text is compared with; ``etag``/``last_modified`` make the next check conditional."""

    __tablename__ = "link_checks"
    bookmark_id: Mapped[int] = mapped_column(ForeignKey("bookmarks.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=LinkState.OK)
    state_since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)   # the state last changed
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    next_check_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)       # failed checks in a row
    first_failure_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(URL_MAX), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")           # for the owner, in plain words
    show_copy: Mapped[bool] = mapped_column(Boolean, default=False)  # public pages link the saved copy instead
    archive_requested_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # Wayback save asked

    __table_args__ = (
        Index("ix_link_checks_next", "next_check_at"),                          # the due links
        Index("ix_link_checks_state_since", "state", "state_since", "bookmark_id"),  # /admin/links, newest first
    )


class PageCopy(Base):
    """A bookmark's saved page and its fetch job in one row (``links/copies.py``): queued in the transaction
    that saved the bookmark, filled by the worker. ``html_z`` is the readable HTML, sanitised and zlib-compressed;
    ``text`` the plain readable text (capped) that the full-text index reads (migration 0010)."""

    __tablename__ = "page_copies"
    bookmark_id: Mapped[int] = mapped_column(ForeignKey("bookmarks.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=CopyState.QUEUED)
    from_import: Mapped[bool] = mapped_column(Boolean, default=False)  # paced by [copies] import_interval
    host: Mapped[str] = mapped_column(String(255), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed or is retried, for the owner
    readers: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # None: [copies] readers_may_see
    final_url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_type: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    site_name: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    canonical_url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    language: Mapped[str] = mapped_column(String(35), default="")
    favicon: Mapped[str] = mapped_column(String(URL_MAX), default="")
    html_z: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_page_copies_state_next", "state", "from_import", "next_attempt_at"),  # the claim
                      Index("ix_page_copies_import_state", "from_import", "state"))


class CopyHost(Base):
    """Politeness per host, shared by every worker: one fetch at a time (``busy_until``, a lease) and none
    before ``next_at`` (the gap, or a Retry-After). The row named ``IMPORT_PACE`` paces imported bookmarks."""

    __tablename__ = "copy_hosts"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    busy_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- Table handles ----------------------------------------------------------------------------------------
# The Core tables, each named for its table: every module that builds SQL imports these instead of keeping
# an alias of its own, so one name means one table everywhere.

OWNER_TABLE: Table = Owner.__table__
SETTINGS: Table = Setting.__table__
AVATARS: Table = Avatar.__table__
BOOKMARKS: Table = Bookmark.__table__
TAGS: Table = Tag.__table__
BOOKMARK_TAGS: Table = BookmarkTag.__table__
WEEKNOTES: Table = Weeknote.__table__
API_TOKENS: Table = ApiToken.__table__
LOGIN_FAILURES: Table = LoginFailure.__table__
OWNER_SESSIONS: Table = OwnerSession.__table__
REMOTE_ACTORS: Table = RemoteActor.__table__
FOLLOWERS: Table = Follower.__table__
FOLLOWING: Table = Following.__table__
BLOCKED_ACTORS: Table = BlockedActor.__table__
OUTBOX_ACTIVITIES: Table = OutboxActivity.__table__
DELIVERIES: Table = Delivery.__table__
REMOTE_HOSTS: Table = RemoteHost.__table__
INBOX_ACTIVITIES: Table = InboxActivity.__table__
INTERACTIONS: Table = Interaction.__table__
INBOX_RATES: Table = InboxRate.__table__
TOMBSTONES: Table = Tombstone.__table__
REMOTE_POSTS: Table = RemotePost.__table__
WORKER_HEALTH: Table = WorkerHealth.__table__
LINK_CHECKS: Table = LinkCheck.__table__
PAGE_COPIES: Table = PageCopy.__table__
COPY_HOSTS: Table = CopyHost.__table__
