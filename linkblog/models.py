"""Typed SQLAlchemy models. Every item has a stable integer id, created/updated times and a visibility."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, utcnow

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
    summary: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    session_epoch: Mapped[int] = mapped_column(Integer, default=1)
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_key_pem: Mapped[str] = mapped_column(Text)
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
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        Index("ix_bookmarks_visibility_created", "visibility", "created_at", "id"),
        Index("ix_bookmarks_created", "created_at", "id"),
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
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published
    visibility: Mapped[str] = mapped_column(String(16), default="public")
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

    __table_args__ = (UniqueConstraint("name", name="uq_api_tokens_name"),)


class LoginFailure(Base):
    """One row per failed login, so every web process shares the rate limit."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),)
