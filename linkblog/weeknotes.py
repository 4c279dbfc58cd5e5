"""Weeknotes: ISO-week arithmetic, drafting "links this week", and every weeknote write."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, insert, select, update

from . import markup
from .bookmarks import NotFound, ValidationError
from .config import VISIBILITIES
from .db import insert_ignoring, utcnow
from .models import BOOKMARKS, TITLE_MAX, WEEKNOTES, WEEKNOTE_MAX
from .queries.weeknotes import stored as stored_weeknote
from .states import Visibility, WeeknoteStatus
from .urls import InvalidURL, normalise_url

if TYPE_CHECKING:
    from .config import Config

WEEK_RE = re.compile(r"(\d{4})-W(\d{2})", re.ASCII)  # used with fullmatch: no trailing newline, no other digits
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<])")
STATUSES = tuple(WeeknoteStatus)


class InvalidWeek(ValueError):
    pass


# Who can read an item of each visibility, as a rank: public and unlisted are readable by anyone with the page,
# followers-only by followers, private by the owner alone. A bookmark must never be shown (in a weeknote) to
# readers of a higher rank than its own without the owner's explicit confirmation.
REACH = {Visibility.PRIVATE: 0, Visibility.FOLLOWERS: 1, Visibility.UNLISTED: 2, Visibility.PUBLIC: 2}
REACH_WORDS = {Visibility.PRIVATE: "private (only you)", Visibility.FOLLOWERS: "followers only",
               Visibility.UNLISTED: "unlisted (anyone with the link)", Visibility.PUBLIC: "public"}
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`]+", re.I)
URL_TRAILER = ".,;:!?)]*_>'"  # what may follow a link in Markdown and is not part of it (tried both ways)
LOOKUP_BATCH = 500
NO_LINKS = "_No public links saved this week yet._"


@dataclass(frozen=True)
class Hidden:
    """A bookmark that a weeknote would show to more people than the bookmark's own visibility allows."""

    id: int
    title: str
    url: str
    visibility: str


class WouldReveal(ValidationError):
    """Saving would show non-public bookmarks to the weeknote's wider audience; nothing was changed. The owner
    must confirm (``reveal=True``) after seeing exactly which ones."""

    def __init__(self, hidden: list[Hidden], visibility: str) -> None:
        self.hidden, self.visibility = hidden, visibility
        names = ", ".join(f"{h.url} ({REACH_WORDS.get(h.visibility, h.visibility)})" for h in hidden)
        super().__init__({"reveal": f"This weeknote is {REACH_WORDS.get(visibility, visibility)}, but it shows "
                                    f"bookmarks that are not: {names}. Their title, address and note would be "
                                    "shown to everyone who can read the weeknote (and in its feeds). Confirm to "
                                    "show them anyway, or remove them."})


def reveals(item_visibility: str, note_visibility: str) -> bool:
    """Whether an item of ``item_visibility`` inside a note of ``note_visibility`` reaches more readers."""
    return REACH.get(item_visibility, 0) < REACH.get(note_visibility, 0)


def _mentioned_urls(body: str) -> set[str]:
    """Every address in ``body`` as written and normalised, with and without trailing Markdown punctuation."""
    found: set[str] = set()
    for match in URL_IN_TEXT.finditer(body):
        text = match.group(0)
        variants = {text}
        while text and text[-1] in URL_TRAILER:
            text = text[:-1]
            variants.add(text)
        for variant in variants:
            found.add(variant)
            try:
                found.add(normalise_url(variant))
            except InvalidURL:
                pass
    return found


def hidden_bookmarks(conn: Connection, body: str, visibility: str) -> list[Hidden]:
    """The stored bookmarks whose address ``body`` mentions and whom a note of ``visibility`` would show to
    more readers than their own visibility allows (by address: what "Add to this week's note" writes)."""
    narrower = [v.value for v in Visibility if reveals(v, visibility)]
    urls = sorted(_mentioned_urls(body)) if narrower else []
    hidden: dict[int, Hidden] = {}
    for start in range(0, len(urls), LOOKUP_BATCH):
        rows = conn.execute(select(BOOKMARKS.c.id, BOOKMARKS.c.title, BOOKMARKS.c.url, BOOKMARKS.c.visibility)
                            .where(BOOKMARKS.c.url.in_(urls[start:start + LOOKUP_BATCH]),
                                   BOOKMARKS.c.visibility.in_(narrower)))
        hidden.update({r.id: Hidden(r.id, r.title, r.url, r.visibility) for r in rows})
    return [hidden[k] for k in sorted(hidden)]


def _check_reveal(conn: Connection, item: "WeeknoteInput", before: dict | None) -> None:
    """Publishing (or widening) a note that shows non-public bookmarks needs the owner's confirmation; those
    it already showed to the same readers before this save are not asked about again."""
    if item.status != WeeknoteStatus.PUBLISHED:
        return
    hidden = hidden_bookmarks(conn, item.body, item.visibility)
    if (hidden and before is not None and before["status"] == WeeknoteStatus.PUBLISHED
            and REACH.get(before["visibility"], 0) >= REACH.get(item.visibility, 0)):
        shown = {h.id for h in hidden_bookmarks(conn, before["body"], before["visibility"])}
        hidden = [h for h in hidden if h.id not in shown]
    if hidden:
        raise WouldReveal(hidden, item.visibility)


def parse_week(text: str) -> tuple[int, int]:
    """'2026-W47' to (2026, 47); weeks that do not exist (W00, W54, W53 in a 52-week year) are refused."""
    match = WEEK_RE.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise InvalidWeek(f"{text!r} is not an ISO week; write it like 2026-W47.")
    year, week = int(match.group(1)), int(match.group(2))
    if not 2 <= year <= 9998:  # the weeks around it (neighbours, local bounds) must stay inside datetime's range
        raise InvalidWeek(f"{text} is outside the calendar (years 0002 to 9998).")
    weeks_in_year = date(year, 12, 28).isocalendar().week
    if not 1 <= week <= weeks_in_year:
        raise InvalidWeek(f"{year} has weeks 01 to {weeks_in_year}; {text} does not exist.")
    return year, week


def week_of(moment: date) -> str:
    iso = moment.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_of_stored(moment: datetime, tz: str = "UTC") -> str:
    """ISO week of a stored (naive UTC) time, as seen in the site's time zone (in UTC when the local time
    would fall outside years 1-9999)."""
    try:
        return week_of(moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz)).date())
    except OverflowError:
        return week_of(moment.date())


def current_week(tz: str = "UTC", now: datetime | None = None) -> str:
    """The site's week at ``now``; a naive ``now`` is UTC, like every stored time (not the server's zone)."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return week_of(now.astimezone(ZoneInfo(tz)).date())


def week_bounds_utc(week: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """Start (Monday 00:00 local) and end of the week, as naive UTC like the stored times."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    zone = ZoneInfo(tz)
    start = datetime.combine(monday, time(), zone).astimezone(timezone.utc).replace(tzinfo=None)
    end = datetime.combine(monday + timedelta(days=7), time(), zone).astimezone(timezone.utc).replace(tzinfo=None)
    return start, end


def neighbours(week: str) -> tuple[str, str]:
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    return week_of(monday - timedelta(days=7)), week_of(monday + timedelta(days=7))


def week_label(week: str) -> str:
    """The week as readers say it: "Week 49 · 30 Nov – 6 Dec 2026" (both years when it spans two)."""
    year, number = parse_week(week)
    monday = date.fromisocalendar(year, number, 1)
    sunday = monday + timedelta(days=6)
    start = f"{monday:%-d %b}" if monday.year == sunday.year else f"{monday:%-d %b %Y}"
    return f"Week {number} · {start} – {sunday:%-d %b %Y}"


@dataclass(frozen=True)
class WeeknoteInput:
    week: str
    title: str
    body: str
    status: str
    visibility: str


def validate(data: dict[str, Any], partial: WeeknoteInput | None = None) -> WeeknoteInput:
    if partial is not None:
        base = {"week": partial.week, "title": partial.title, "body": partial.body, "status": partial.status,
                "visibility": partial.visibility}
        data = {**base, **{k: v for k, v in data.items() if k in base}}
    errors: dict[str, str] = {}
    week = data.get("week")
    try:
        parse_week(week if isinstance(week, str) else "")
    except InvalidWeek as exc:
        errors["week"] = str(exc)
    title = data.get("title") or ""
    body = data.get("body") or ""
    if isinstance(body, str):
        body = body.replace("\r\n", "\n")  # browsers send CRLF; count the length the way it is stored
    if not isinstance(title, str) or len(title) > TITLE_MAX or any(ord(c) < 32 for c in title):
        errors["title"] = f"The title must be one line of at most {TITLE_MAX} characters."
    if not isinstance(body, str):
        errors["body"] = "The body must be text."
    elif len(body) > WEEKNOTE_MAX:
        errors["body"] = f"The body is {len(body):,} characters long; the limit is {WEEKNOTE_MAX:,}."
    elif any(ord(ch) < 32 and ch not in "\r\n\t" for ch in body):
        errors["body"] = "The body contains control characters."
    status = data.get("status") or WeeknoteStatus.DRAFT
    if status not in STATUSES:
        errors["status"] = f"Status must be draft or published (got {status!r})."
    visibility = data.get("visibility") or Visibility.PUBLIC
    if visibility not in VISIBILITIES:
        errors["visibility"] = f"Visibility must be one of {', '.join(VISIBILITIES)} (got {visibility!r})."
    if errors:
        raise ValidationError(errors)
    return WeeknoteInput(week=week, title=" ".join(title.split()), body=body, status=status,
                         visibility=visibility)


def markdown_text(text: str) -> str:
    """Plain text made safe inside Markdown link text: a title like ``a [b] c\\`` must not break the link."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def links_section(conn: Connection, week: str, tz: str, heading: str) -> str:
    """Markdown list of the week's public bookmarks: title, link, first line of the annotation."""
    start, end = week_bounds_utc(week, tz)
    rows = conn.execute(select(BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation)
                        .where(BOOKMARKS.c.visibility == Visibility.PUBLIC, BOOKMARKS.c.created_at >= start,
                               BOOKMARKS.c.created_at < end)
                        .order_by(BOOKMARKS.c.created_at, BOOKMARKS.c.id)).all()
    lines = [f"## {heading}", ""]
    lines.extend(link_item(url, title, annotation) for url, title, annotation in rows)
    if not rows:
        lines.append(NO_LINKS)
    return "\n".join(lines) + "\n"


def link_item(url: str, title: str, annotation: str | None) -> str:
    """One bookmark as a line of the links list: the draft, "Add to this week's note" and "refresh links" all
    write this same format."""
    summary = markup.first_line(annotation or "")
    return f"- [{markdown_text(title)}](<{url}>)" + (f" — {summary}" if summary else "")


def lists_link(body: str, url: str) -> bool:
    """Whether ``body`` already mentions the (normalised) address ``url``: an item is never added twice."""
    return url in _mentioned_urls(body)


def with_items(body: str, items: list[str], heading: str) -> str:
    """``body`` with ``items`` appended to the list under ``## heading`` (its "no links yet" line dropped); a
    body without that section gets one at its end."""
    if not items:
        return body
    lines = body.rstrip("\n").split("\n") if body.strip() else []
    head = f"## {heading}"
    if head not in lines:
        return (body.rstrip() + "\n\n" if body.strip() else "") + "\n".join([head, "", *items]) + "\n"
    start = lines.index(head) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith("#")), len(lines))
    section = [line for line in lines[start:end] if line.strip() != NO_LINKS]
    last = max((i for i, line in enumerate(section) if line.startswith(("- ", "* "))), default=None)
    if last is None:
        while section and not section[0].strip():
            section.pop(0)
        section = ["", *items, *([""] + section if section else [])]
    else:
        section = section[:last + 1] + items + section[last + 1:]
    if end < len(lines) and section and section[-1].strip():
        section.append("")
    return "\n".join(lines[:start] + section + lines[end:]) + "\n"


def new_links(conn: Connection, note: dict[str, Any], body: str, tz: str) -> list[str]:
    """"Refresh links": list items for the week's public bookmarks saved since the draft began that ``body``
    does not mention yet, oldest first."""
    start, end = week_bounds_utc(note["week"], tz)
    since = max(start, note["created_at"])
    rows = conn.execute(select(BOOKMARKS.c.url, BOOKMARKS.c.title, BOOKMARKS.c.annotation)
                        .where(BOOKMARKS.c.visibility == Visibility.PUBLIC, BOOKMARKS.c.created_at >= since,
                               BOOKMARKS.c.created_at < end)
                        .order_by(BOOKMARKS.c.created_at, BOOKMARKS.c.id)).all()
    mentioned = _mentioned_urls(body)
    return [link_item(url, title, annotation) for url, title, annotation in rows if url not in mentioned]


def create_draft(conn: Connection, week: str, tz: str, heading: str) -> int:
    """A new draft for the week, starting with its links section; an existing note is returned as is."""
    parse_week(week)
    existing = stored_weeknote(conn, week)
    if existing:
        return existing["id"]
    body = links_section(conn, week, tz, heading)
    now = utcnow()
    # A double-clicked "Write this week's note" (or two tabs) must open the same draft, not fail on the unique week.
    insert_ignoring(conn, WEEKNOTES, dict(
        week=week, title="", body=body, body_html=markup.render_markdown(body), status=WeeknoteStatus.DRAFT,
        visibility=Visibility.PUBLIC, created_at=now, updated_at=now,
    ), ["week"])
    return conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == week)).scalar_one()


def save(conn: Connection, item: WeeknoteInput, weeknote_id: int | None = None,
         config: "Config | None" = None, reveal: bool = False) -> int:
    """Create or update; publishing stamps ``published_at`` once, ``updated_at`` moves only on change.
    With ``config`` followers hear about it (Create on publishing, Update on edits, Delete on unpublishing).
    A published note that would show non-public bookmarks to more readers raises ``WouldReveal`` unless the
    owner confirmed (``reveal``)."""
    now = utcnow()
    clash = conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == item.week)).scalar()
    if clash is not None and clash != weeknote_id:
        raise ValidationError({"week": f"There is already a weeknote for {item.week}."})
    values = {"week": item.week, "title": item.title, "body": item.body,
              "body_html": markup.render_markdown(item.body), "status": item.status,
              "visibility": item.visibility}
    if weeknote_id is None:
        if not reveal:
            _check_reveal(conn, item, None)
        new_id = conn.execute(insert(WEEKNOTES).values(
            **values, created_at=now, updated_at=now,
            published_at=now if item.status == WeeknoteStatus.PUBLISHED else None,
        ).returning(WEEKNOTES.c.id)).scalar_one()
        _publish(conn, config, item.week, before=None)
        return new_id
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id)).mappings().first()
    if row is None:
        raise NotFound(weeknote_id)
    if all(row[k] == v for k, v in values.items() if k != "body_html"):
        return weeknote_id
    if not reveal:
        _check_reveal(conn, item, dict(row))
    if item.status == WeeknoteStatus.PUBLISHED and row["published_at"] is None:
        values["published_at"] = now
    conn.execute(update(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id).values(**values, updated_at=now))
    _publish(conn, config, item.week, before=dict(row))
    return weeknote_id


def _publish(conn: Connection, config: "Config | None", week: str, before: dict | None) -> None:
    if config is None:
        return
    from .federation import publish

    if before is not None and before["week"] != week:  # moved to another week: a new id
        publish.weeknote_deleted(conn, config, before)
        before = None
    publish.weeknote_saved(conn, config, week, before=before)


def append_paragraph(conn: Connection, week: str, tz: str, heading: str, text: str,
                     today: date | None = None, config: "Config | None" = None) -> int:
    """"Add to this week's note": a dated paragraph at the end of the week's note (drafted if missing)."""
    weeknote_id = create_draft(conn, week, tz, heading)
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id)).mappings().one()
    today = today or datetime.now(ZoneInfo(tz)).date()
    kept = row["body"].rstrip()
    body = (kept + "\n\n" if kept else "") + f"**{today:%a %-d %b}** — {text.strip()}\n"
    if len(body) > WEEKNOTE_MAX:
        raise ValidationError({"body": "This week's note is full; start a new section by editing it."})
    conn.execute(update(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id).values(
        body=body, body_html=markup.render_markdown(body), updated_at=utcnow()))
    _publish(conn, config, week, before=dict(row))
    return weeknote_id


def bookmark_paragraph(bookmark: dict[str, Any]) -> str:
    """What "Add to this week's note" writes about a bookmark: the links list's line for it."""
    return link_item(bookmark["url"], bookmark["title"], bookmark.get("annotation"))


def add_bookmark(conn: Connection, bookmark: dict[str, Any], week: str, tz: str, heading: str, *,
                 reveal: bool = False, config: "Config | None" = None) -> tuple[int, bool]:
    """"Add to this week's note" for one bookmark: its line joins the links list (the draft's format), once;
    returns the note's id and whether it was added (False: the note lists it already). A bookmark less visible
    than the note (a private or followers-only one in a public note) raises ``WouldReveal`` unless the owner
    confirmed (``reveal``): its title, address and private note would otherwise reach the note's readers."""
    note = stored_weeknote(conn, week)
    visibility = note["visibility"] if note else Visibility.PUBLIC  # a new draft starts public
    if note is not None and lists_link(note["body"], bookmark["url"]):
        return note["id"], False
    if not reveal and reveals(bookmark["visibility"], visibility):
        raise WouldReveal([Hidden(bookmark["id"], bookmark["title"], bookmark["url"], bookmark["visibility"])],
                          visibility)
    weeknote_id = create_draft(conn, week, tz, heading)
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id)).mappings().one()
    if lists_link(row["body"], bookmark["url"]):  # the draft just begun lists it already: added all the same
        return weeknote_id, True
    body = with_items(row["body"], [bookmark_paragraph(bookmark)], heading)
    if len(body) > WEEKNOTE_MAX:
        raise ValidationError({"body": "This week's note is full; start a new section by editing it."})
    conn.execute(update(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id).values(
        body=body, body_html=markup.render_markdown(body), updated_at=utcnow()))
    _publish(conn, config, week, before=dict(row))
    return weeknote_id, True


def remove(conn: Connection, weeknote_id: int, config: "Config | None" = None) -> None:
    row = conn.execute(select(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id)).mappings().first()
    if row is None or conn.execute(delete(WEEKNOTES).where(WEEKNOTES.c.id == weeknote_id)).rowcount == 0:
        raise NotFound(weeknote_id)
    if config is not None:
        from .federation import publish

        publish.weeknote_deleted(conn, config, dict(row))


def remove_week(conn: Connection, week: str, config: "Config | None" = None) -> bool:
    """Delete the weeknote of ``week`` (telling followers when ``config`` is given); False when there is none."""
    row = conn.execute(select(WEEKNOTES.c.id).where(WEEKNOTES.c.week == week)).first()
    if row is None:
        return False
    remove(conn, row.id, config=config)
    return True


def is_visible_to_public(row: dict) -> bool:
    return row["status"] == WeeknoteStatus.PUBLISHED and row["visibility"] in (Visibility.PUBLIC, Visibility.UNLISTED)


def listed_condition():  # noqa: ANN201
    return and_(WEEKNOTES.c.status == WeeknoteStatus.PUBLISHED, WEEKNOTES.c.visibility == Visibility.PUBLIC)


def link_count(body: str) -> int:
    """How many different web addresses a note's Markdown links to (the dashboard's "N links")."""
    return len({match.group(0).rstrip(URL_TRAILER) for match in URL_IN_TEXT.finditer(body or "")})
