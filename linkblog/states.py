"""The values of the columns that hold a state, each named once.

Every enum is a ``StrEnum`` whose values are exactly the strings the database, the API and backup files have
always held: a member is a ``str``, compares equal to the plain string read back from a row, and prints
(``str``, f-strings, Jinja, ``json.dumps``) as that string, so nothing stored or served changes.
"""
from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    """Who may see a bookmark or a weeknote (``bookmarks.visibility``, ``weeknotes.visibility``)."""

    PUBLIC = "public"          # listed everywhere and federated to everyone
    UNLISTED = "unlisted"      # served to anyone with the link, left out of lists and feeds
    FOLLOWERS = "followers"    # federated to accepted followers only
    PRIVATE = "private"        # the owner's alone


class WeeknoteStatus(StrEnum):
    """``weeknotes.status``: only a published note is ever shown to others."""

    DRAFT = "draft"
    PUBLISHED = "published"


class FollowState(StrEnum):
    """``followers.state`` and ``following.state``: pending until approved (theirs) or Accepted (ours)."""

    PENDING = "pending"
    ACCEPTED = "accepted"


class DeliveryState(StrEnum):
    """``deliveries.state``: queued until it is delivered or the retries run out."""

    QUEUED = "queued"
    DONE = "done"
    GAVE_UP = "gave_up"


class InboxState(StrEnum):
    """``inbox_activities.state``: what the worker made of a received activity."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"      # processing raised, or a document it needed could not be fetched
    IGNORED = "ignored"    # understood, but nothing for us to do


class InteractionState(StrEnum):
    """``interactions.state``: whether a like, boost or reply shows on the item's page."""

    VISIBLE = "visible"
    HIDDEN = "hidden"
    PENDING = "pending"


class LinkState(StrEnum):
    """``link_checks.state``: what the last checks of a bookmark's link found (``links/checks.py``)."""

    OK = "ok"                  # answers 2xx (or 304), directly or after temporary redirects
    REDIRECTED = "redirected"  # permanently moved (301/308 on the way) to a page that answers
    GONE = "gone"              # 404 or 410
    UNREACHABLE = "unreachable"  # failed ``unreachable_checks`` checks in a row over ``unreachable_days`` days
    CHANGED = "changed"        # answers, but its text no longer resembles what was first seen there


class CopyState(StrEnum):
    """``page_copies.state``: where a bookmark's page copy is in its fetch (``links/copies.py``)."""

    QUEUED = "queued"      # waiting for the worker (maybe a retry, at ``next_attempt_at``)
    DONE = "done"          # fetched and kept
    FAILED = "failed"      # given up; ``reason`` says why in words the owner can read
