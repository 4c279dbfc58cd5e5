"""linkblog/weeknotes.py on its own: ISO-week arithmetic (pure) and drafting/appending (on both databases)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from linkblog import markup, weeknotes
from linkblog.bookmarks import ValidationError
from linkblog.models import WEEKNOTE_MAX, Weeknote
from linkblog.weeknotes import InvalidWeek

W = Weeknote.__table__
HEADING = "Links this week"


# ISO weeks, checked against the calendar


def test_parse_week_accepts_real_weeks():
    assert weeknotes.parse_week("2026-W47") == (2026, 47)
    assert weeknotes.parse_week("2026-W01") == (2026, 1)
    assert weeknotes.parse_week("2025-W52") == (2025, 52)


def test_week_53_exists_only_in_53_week_years():
    # The calendar itself: 31 Dec 2026 is a Thursday in week 53; 2025's last ISO week is 52.
    assert tuple(date(2026, 12, 31).isocalendar()) == (2026, 53, 4)
    assert date(2025, 12, 28).isocalendar().week == 52
    assert tuple(date(2025, 12, 29).isocalendar()) == (2026, 1, 1)
    assert weeknotes.parse_week("2026-W53") == (2026, 53)
    with pytest.raises(InvalidWeek, match="2025 has weeks 01 to 52"):
        weeknotes.parse_week("2025-W53")


@pytest.mark.parametrize("text", ["2026-W00", "2026-W54", "2026-W99", "0000-W10", "0001-W01", "9999-W01"])
def test_parse_week_refuses_weeks_outside_the_calendar(text):
    with pytest.raises(InvalidWeek):
        weeknotes.parse_week(text)


@pytest.mark.parametrize("text", ["banana", "", "2026-47", "2026W47", "2026-w47", "2026-W4", "2026-W470",
                                  "26-W47", " 2026-W47", "2026-W47 ", "2026-W47\n", "２０２６-W47", "2026-W４７",
                                  "2026-W47/../x", None, 202647])
def test_parse_week_refuses_junk(text):
    with pytest.raises(InvalidWeek):
        weeknotes.parse_week(text)


@pytest.mark.parametrize("day, week", [
    (date(2027, 1, 1), "2026-W53"),   # a Friday: still in the old year's last week
    (date(2027, 1, 3), "2026-W53"),
    (date(2027, 1, 4), "2027-W01"),
    (date(2026, 12, 28), "2026-W53"),
    (date(2024, 12, 30), "2025-W01"),  # a Monday in December that opens next year's week 1
    (date(2021, 1, 3), "2020-W53"),
    (date(2026, 11, 18), "2026-W47"),
])
def test_week_of_around_year_boundaries(day, week):
    assert weeknotes.week_of(day) == week


def test_current_week_is_decided_in_the_site_time_zone():
    # Sunday 23:30 UTC is already Monday in Berlin and still Sunday in New York.
    moment = datetime(2027, 1, 3, 23, 30, tzinfo=timezone.utc)
    assert weeknotes.current_week("UTC", moment) == "2026-W53"
    assert weeknotes.current_week("Europe/Berlin", moment) == "2027-W01"
    assert weeknotes.current_week("America/New_York", moment) == "2026-W53"


def test_current_week_reads_a_naive_time_as_utc_like_stored_times():
    naive = datetime(2027, 1, 3, 23, 30)
    assert weeknotes.current_week("Europe/Berlin", naive) == "2027-W01"
    assert weeknotes.current_week("UTC", naive) == "2026-W53"


def test_week_bounds_utc_in_a_zone_ahead_of_utc():
    start, end = weeknotes.week_bounds_utc("2026-W47", "Europe/Berlin")
    # Monday 16 Nov 2026 00:00 CET (UTC+1) to Monday 23 Nov 00:00 CET, as naive UTC.
    assert start == datetime(2026, 11, 15, 23, 0)
    assert end == datetime(2026, 11, 22, 23, 0)
    assert start.tzinfo is None and end.tzinfo is None


def test_week_bounds_utc_across_a_daylight_saving_change():
    # Summer time starts on Sunday 29 March 2026: the week starts at UTC+1 and ends at UTC+2.
    start, end = weeknotes.week_bounds_utc("2026-W13", "Europe/Berlin")
    assert start == datetime(2026, 3, 22, 23, 0)
    assert end == datetime(2026, 3, 29, 22, 0)


def test_week_bounds_utc_in_a_zone_behind_utc_and_in_utc():
    assert weeknotes.week_bounds_utc("2026-W53", "America/New_York") == (datetime(2026, 12, 28, 5, 0),
                                                                        datetime(2027, 1, 4, 5, 0))
    assert weeknotes.week_bounds_utc("2026-W53") == (datetime(2026, 12, 28), datetime(2027, 1, 4))


@pytest.mark.parametrize("week, expected", [
    ("2026-W47", ("2026-W46", "2026-W48")),
    ("2026-W53", ("2026-W52", "2027-W01")),
    ("2027-W01", ("2026-W53", "2027-W02")),
    ("2026-W01", ("2025-W52", "2026-W02")),
    ("2021-W01", ("2020-W53", "2021-W02")),
])
def test_neighbours(week, expected):
    assert weeknotes.neighbours(week) == expected


def test_neighbours_refuses_a_week_that_does_not_exist():
    with pytest.raises(InvalidWeek):
        weeknotes.neighbours("2025-W53")


def test_week_label_spans_the_year_boundary():
    assert weeknotes.week_label("2026-W53") == "Week 53 · 28 Dec 2026 – 3 Jan 2027"
    assert weeknotes.week_label("2026-W47") == "Week 47 · 16 Nov – 22 Nov 2026"
    assert weeknotes.week_label("2026-W49") == "Week 49 · 30 Nov – 6 Dec 2026"


# Validation


def test_validate_collects_every_problem():
    with pytest.raises(ValidationError) as caught:
        weeknotes.validate({"week": "2026-W54", "title": "a\x01b", "body": "ok\x07", "status": "live",
                            "visibility": "everyone"})
    assert set(caught.value.errors) == {"week", "title", "body", "status", "visibility"}


def test_validate_normalises_line_endings_before_counting_length():
    body = "x\r\n" * (WEEKNOTE_MAX // 2)  # WEEKNOTE_MAX characters once stored with \n
    item = weeknotes.validate({"week": "2026-W47", "title": "  A   title ", "body": body, "status": "published",
                               "visibility": "unlisted"})
    assert item.body == "x\n" * (WEEKNOTE_MAX // 2) and "\r" not in item.body
    assert item.title == "A title"
    assert (item.status, item.visibility) == ("published", "unlisted")
    with pytest.raises(ValidationError) as caught:
        weeknotes.validate({"week": "2026-W47", "body": "y" * (WEEKNOTE_MAX + 1)})
    assert "limit" in caught.value.errors["body"]


def test_validate_defaults_to_a_public_draft():
    item = weeknotes.validate({"week": "2026-W47"})
    assert (item.title, item.body, item.status, item.visibility) == ("", "", "draft", "public")


def test_markdown_text_escapes_what_would_break_a_link():
    assert weeknotes.markdown_text(r"a [b] c\ *d* `e` <f>") == r"a \[b\] c\\ \*d\* \`e\` \<f>"


# On the database


def test_links_section_lists_only_that_weeks_public_bookmarks(engine, make_bookmark):
    tz = "Europe/Berlin"
    make_bookmark("https://a.example/", "A [bracketed] title\\", created_at=datetime(2026, 11, 18, 12, 0),
                  annotation="First line of the note.\n\nSecond paragraph, not shown.")
    make_bookmark("https://early.example/", "Monday just after midnight in Berlin",
                  created_at=datetime(2026, 11, 15, 23, 30))
    make_bookmark("https://before.example/", "Sunday night in Berlin", created_at=datetime(2026, 11, 15, 22, 30))
    make_bookmark("https://after.example/", "Next Monday in Berlin", created_at=datetime(2026, 11, 22, 23, 0))
    make_bookmark("https://unlisted.example/", "Unlisted one", created_at=datetime(2026, 11, 18, 13, 0),
                  visibility="unlisted")
    make_bookmark("https://followers.example/", "Followers one", created_at=datetime(2026, 11, 18, 13, 0),
                  visibility="followers")
    make_bookmark("https://private.example/", "Private one", created_at=datetime(2026, 11, 18, 14, 0),
                  visibility="private")
    with engine.connect() as conn:
        text = weeknotes.links_section(conn, "2026-W47", tz, HEADING)
    assert text.splitlines() == [
        "## Links this week",
        "",
        "- [Monday just after midnight in Berlin](<https://early.example/>)",
        r"- [A \[bracketed\] title\\](<https://a.example/>) — First line of the note.",
    ]
    html = markup.render_markdown(text)
    assert '<a href="https://a.example/" rel="noopener nofollow ugc">A [bracketed] title\\</a>' in html


def test_links_section_of_an_empty_week_says_so(engine):
    with engine.connect() as conn:
        text = weeknotes.links_section(conn, "2026-W47", "UTC", "Saved")
    assert text == "## Saved\n\n_No public links saved this week yet._\n"


def test_create_draft_starts_with_the_links_section_and_is_idempotent(engine, make_bookmark):
    make_bookmark("https://a.example/", "Week link", created_at=datetime(2026, 11, 18, 12, 0))
    with engine.begin() as conn:
        first = weeknotes.create_draft(conn, "2026-W47", "UTC", HEADING)
    with engine.begin() as conn:
        second = weeknotes.create_draft(conn, "2026-W47", "UTC", HEADING)
    assert first == second
    with engine.connect() as conn:
        rows = conn.execute(select(W)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row["week"], row["status"], row["visibility"], row["published_at"]) == ("2026-W47", "draft", "public",
                                                                                 None)
    assert row["body"].startswith("## Links this week\n\n- [Week link](<https://a.example/>)")
    assert '<a href="https://a.example/"' in row["body_html"]


def test_create_draft_refuses_a_week_that_does_not_exist(engine):
    with pytest.raises(InvalidWeek), engine.begin() as conn:
        weeknotes.create_draft(conn, "2025-W53", "UTC", HEADING)
    with engine.connect() as conn:
        assert conn.execute(select(W.c.id)).first() is None


def test_append_paragraph_creates_the_draft_when_missing(engine, make_bookmark):
    make_bookmark("https://a.example/", "Week link", created_at=datetime(2026, 11, 17, 9, 0))
    with engine.begin() as conn:
        note_id = weeknotes.append_paragraph(conn, "2026-W47", "UTC", HEADING, "  Thought about *this*.  ",
                                             today=date(2026, 11, 18))
    with engine.connect() as conn:
        row = conn.execute(select(W).where(W.c.id == note_id)).mappings().one()
    assert row["status"] == "draft"
    assert row["body"] == ("## Links this week\n\n- [Week link](<https://a.example/>)\n\n"
                           "**Wed 18 Nov** — Thought about *this*.\n")
    assert "<em>this</em>" in row["body_html"]


def test_append_paragraph_keeps_existing_text(engine):
    item = weeknotes.validate({"week": "2026-W47", "title": "Mine", "body": "My own words.\n\n\n",
                               "status": "published", "visibility": "public"})
    with engine.begin() as conn:
        note_id = weeknotes.save(conn, item)
    with engine.begin() as conn:
        assert weeknotes.append_paragraph(conn, "2026-W47", "UTC", HEADING, "First.", today=date(2026, 11, 16)) \
            == note_id
    with engine.begin() as conn:
        weeknotes.append_paragraph(conn, "2026-W47", "UTC", HEADING, "Second.", today=date(2026, 11, 17))
    with engine.connect() as conn:
        rows = conn.execute(select(W)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["body"] == "My own words.\n\n**Mon 16 Nov** — First.\n\n**Tue 17 Nov** — Second.\n"
    assert (rows[0]["title"], rows[0]["status"]) == ("Mine", "published")


def test_append_paragraph_refuses_to_overflow_the_note(engine):
    item = weeknotes.validate({"week": "2026-W47", "body": "z" * (WEEKNOTE_MAX - 10)})
    with engine.begin() as conn:
        weeknotes.save(conn, item)
    with pytest.raises(ValidationError), engine.begin() as conn:
        weeknotes.append_paragraph(conn, "2026-W47", "UTC", HEADING, "one more thing", today=date(2026, 11, 18))
    with engine.connect() as conn:
        assert conn.execute(select(W.c.body)).scalar_one() == "z" * (WEEKNOTE_MAX - 10)


def test_save_stamps_published_at_once(engine):
    draft = weeknotes.validate({"week": "2026-W47", "body": "Draft.", "status": "draft"})
    with engine.begin() as conn:
        note_id = weeknotes.save(conn, draft)
    with engine.connect() as conn:
        assert conn.execute(select(W.c.published_at)).scalar_one() is None
    published = weeknotes.validate({"week": "2026-W47", "body": "Final.", "status": "published"})
    with engine.begin() as conn:
        weeknotes.save(conn, published, note_id)
    with engine.connect() as conn:
        stamped = conn.execute(select(W.c.published_at)).scalar_one()
    assert stamped is not None
    edited = weeknotes.validate({"week": "2026-W47", "body": "Final, fixed.", "status": "published"})
    with engine.begin() as conn:
        weeknotes.save(conn, edited, note_id)
    with engine.connect() as conn:
        row = conn.execute(select(W)).mappings().one()
    assert row["published_at"] == stamped
    assert row["body"] == "Final, fixed." and "<p>Final, fixed.</p>" in row["body_html"]


def test_save_refuses_a_second_note_for_the_same_week(engine):
    item = weeknotes.validate({"week": "2026-W47", "body": "One."})
    with engine.begin() as conn:
        weeknotes.save(conn, item)
    with pytest.raises(ValidationError) as caught, engine.begin() as conn:
        weeknotes.save(conn, weeknotes.validate({"week": "2026-W47", "body": "Two."}))
    assert "already" in caught.value.errors["week"]
    with engine.connect() as conn:
        assert conn.execute(select(W.c.body)).scalars().all() == ["One."]
