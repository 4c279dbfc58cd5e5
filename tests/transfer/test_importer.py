"""Import and export against the database, through the `linkblog` command, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from linkblog.models import Bookmark, BookmarkTag, OutboxActivity, Tag
from linkblog.db import make_engine
from linkblog.queries.search import search
from linkblog.transfer import importer
from linkblog.transfer.formats.entries import ParseError
from linkblog.transfer.formats.registry import PARSERS

from tests.support.cli import run
from tests.support.databases import truncate_postgres

FIX = Path(__file__).parent / "fixtures" / "bookmarks"


def cli(inst, *args):  # noqa: ANN001, ANN201
    return run("--config", str(inst["config"]), *args, env=inst["env"])


def rows(inst) -> dict[str, dict]:  # noqa: ANN001
    engine = make_engine(inst["url"])
    with engine.connect() as conn:
        found = {r["url"]: dict(r) for r in conn.execute(select(Bookmark.__table__)).mappings()}
        links = conn.execute(select(BookmarkTag.bookmark_id, Tag.name, BookmarkTag.listed, BookmarkTag.created_at)
                             .join(Tag, Tag.id == BookmarkTag.tag_id)).all()
    engine.dispose()
    by_id = {r["id"]: r for r in found.values()}
    for r in found.values():
        r["links"] = []
    for bookmark_id, name, listed, created in links:
        row = by_id[bookmark_id]
        row["links"].append(name)
        assert listed == (row["visibility"] == "public") and created == row["created_at"]
    return found


@pytest.mark.parametrize("path, added, invalid", [
    ("netscape/firefox-export.html", 27, 0), ("netscape/chrome-export.html", 27, 0),
    ("pinboard/pinboard-export-betula.json", 5, 0), ("netscape/shaarli-export.html", 2, 0),
    ("netscape/safari-export.html", 4, 1),
    ("other/pocket-export.csv", 7, 0), ("other/raindrop-export.csv", 5, 0), ("other/instapaper-export.csv", 4, 0),
    ("browser-json/chrome-bookmarks-buku.json", 14, 29), ("browser-json/firefox-backup.json", 2, 0),
])
def test_import_fixture_counts(instance, path, added, invalid):
    result = cli(instance, "import", str(FIX / path))
    assert result.exit_code == 0, result.output
    assert f"{added} added, 0 merged, 0 skipped, {invalid} invalid" in result.output
    stored = rows(instance)
    assert len(stored) == added
    for row in stored.values():
        assert sorted(row["links"]) == sorted(row["tags_text"].split())


def test_shaarli_privacy_tags_dates_and_annotation(instance):
    assert cli(instance, "import", str(FIX / "netscape/shaarli-basic.htm")).exit_code == 0
    stored = rows(instance)
    secret = next(r for r in stored.values() if r["visibility"] == "private")
    public = next(r for r in stored.values() if r["visibility"] == "public")
    assert secret["tags_text"] == "private secret" and "Super-secret" in secret["annotation"]
    assert "<p>" in secret["annotation_html"]
    assert public["tags_text"] == "public hello world"
    assert public["created_at"] == datetime(2016, 2, 25, 20, 55, 48)


def test_pinboard_dates_and_privacy(instance):
    assert cli(instance, "import", "--format", "pinboard",
               str(FIX / "pinboard/pinboard-export-betula.json")).exit_code == 0
    stored = rows(instance)
    codeberg = next(r for u, r in stored.items() if "codeberg.org" in u)
    assert codeberg["created_at"] == datetime(2024, 1, 10, 8, 0) and codeberg["visibility"] == "public"
    assert stored["https://bouncepaw.com/"]["visibility"] == "private"
    sourcehut = stored["https://sourcehut.org/"]
    assert sourcehut["tags_text"] == "forge git" and sourcehut["annotation"].startswith("This suite")


def test_pocket_csv_detected_and_stored(instance):
    result = cli(instance, "import", str(FIX / "other/pocket-export.csv"))
    assert result.exit_code == 0, result.output
    assert "(pocket-csv): 7 added, 0 merged, 0 skipped, 0 invalid" in result.output
    jquery = rows(instance)["http://youmightnotneedjquery.com/"]
    assert jquery["title"] == "You Might Not Need jQuery" and jquery["visibility"] == "private"
    assert jquery["created_at"] == datetime(2020, 9, 17, 6, 6, 28) and jquery["tags_text"] == ""


def test_firefox_json_tags_and_dates_stored(instance):
    result = cli(instance, "import", "--format", "firefox-json", str(FIX / "browser-json/firefox-backup.json"))
    assert result.exit_code == 0, result.output
    tarn = next(r for u, r in rows(instance).items() if "tarn-lapins" in u)
    assert tarn["tags_text"] == "test tag barre-personnelle"
    assert sorted(tarn["links"]) == ["barre-personnelle", "tag", "test"]
    assert tarn["created_at"] == datetime(2013, 12, 27, 17, 41, 31)


# Each is cut or broken after good entries were already read: the import must still write nothing.
BROKEN = {
    "pocket-csv": ("title,url,time_added,tags,status\nA,https://a.example/,1600000000,,unread\n"
                   'B,https://b.example/,1600000000,,unread\n"C cut off,https://c.example/,1600000000,,unr', (4, None)),
    "raindrop-csv": ((FIX / "other/raindrop-export.csv").read_text().replace("\n1739704203,", '\n"1739704203"x,'),
                     (6, None)),
    "instapaper-csv": ('URL,Title,Selection,Folder\nhttps://a.example/,A,,Unread\nhttps://b.example/,"B,,Unread\n',
                       (3, None)),
    "chrome-json": ((FIX / "browser-json/chrome-bookmarks-buku.json").read_text()[:5000], (146, 22)),
    "firefox-json": ((FIX / "browser-json/firefox-backup.json").read_text().replace('"id": 5,', '"id": 5'), (47, 11)),
}


@pytest.mark.parametrize("fmt", sorted(BROKEN))
def test_a_broken_csv_or_json_file_imports_nothing(instance, fmt):
    text, position = BROKEN[fmt]
    engine = make_engine(instance["url"])
    try:
        with pytest.raises(ParseError) as info:
            importer.import_bookmarks(engine, PARSERS[fmt](text))
    finally:
        engine.dispose()
    assert info.value.position == position
    assert rows(instance) == {}


def test_a_broken_csv_through_the_command(instance, tmp_path):
    file = _write(tmp_path, "pocket.csv", BROKEN["pocket-csv"][0])
    result = cli(instance, "import", file)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "pocket.csv: line 4: This is not valid CSV (unexpected end of data)" in result.output
    assert "nothing was imported" in result.output
    assert rows(instance) == {}


def _write(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return str(path)


def _netscape(*entries: str) -> str:
    return "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n" + "".join(entries) + "</DL><p>\n"


def test_duplicates_skip_and_merge(instance, tmp_path):
    first = _write(tmp_path, "a.html", _netscape(
        '<DT><A HREF="https://a.example/" ADD_DATE="1600000000" TAGS="one">https://a.example/</A>\n'))
    second = _write(tmp_path, "b.html", _netscape(
        '<DT><A HREF="HTTPS://A.EXAMPLE" ADD_DATE="1700000000" TAGS="two">Page A</A>\n<DD>A note\n',
        '<DT><A HREF="https://b.example/" TAGS="x">B</A>\n',
        '<DT><A HREF="https://b.example/" TAGS="y">B again</A>\n'))
    assert "1 added" in cli(instance, "import", first).output
    skipped = cli(instance, "import", second)
    assert "1 added, 0 merged, 2 skipped, 0 invalid" in skipped.output, skipped.output
    a = rows(instance)["https://a.example/"]
    assert a["tags_text"] == "one" and a["annotation"] == "" and a["created_at"] == datetime(2020, 9, 13, 12, 26, 40)
    assert rows(instance)["https://b.example/"]["tags_text"] == "x"
    merged = cli(instance, "import", "--duplicates", "merge", second)
    assert "0 added, 3 merged, 0 skipped" in merged.output, merged.output
    stored = rows(instance)
    a = stored["https://a.example/"]
    assert a["tags_text"] == "one two" and sorted(a["links"]) == ["one", "two"]
    assert a["annotation"] == "A note" and a["title"] == "Page A"
    assert a["created_at"] == datetime(2020, 9, 13, 12, 26, 40)
    assert stored["https://b.example/"]["tags_text"] == "x y"
    assert len(stored) == 2


def test_invalid_entries_are_counted_with_reasons(instance, tmp_path):
    file = _write(tmp_path, "bad.html", _netscape(
        '<DT><A HREF="https://ok.example/">ok</A>\n',
        '<DT><A HREF="javascript:alert(1)">js</A>\n',
        '<DT><A HREF="https://long.example/">long</A>\n<DD>' + "x" * 20_001 + "\n"))
    result = cli(instance, "import", file)
    assert result.exit_code == 0
    assert "1 added, 0 merged, 0 skipped, 2 invalid" in result.output
    assert "invalid: entry 3: The annotation is 20,001 characters long" in result.output
    assert result.output.count("  invalid: ") == 2
    assert list(rows(instance)) == ["https://ok.example/"]


def test_a_broken_file_imports_nothing(instance, tmp_path):
    text = (FIX / "pinboard/pinboard-export-betula.json").read_text()
    file = _write(tmp_path, "cut.json", text[: len(text) // 2])
    result = cli(instance, "import", file)
    assert result.exit_code == 1
    assert "This is not valid JSON" in result.output and "line " in result.output
    assert "nothing was imported" in result.output and "Traceback" not in result.output
    assert rows(instance) == {}
    unsupported = cli(instance, "import", str(FIX / "other/delicious-export.json"))
    assert unsupported.exit_code == 1 and "not supported" in unsupported.output


def test_a_failure_mid_import_leaves_the_database_as_it_was(instance, monkeypatch):
    cli(instance, "import", str(FIX / "netscape/shaarli-basic.htm"))
    before = rows(instance)
    monkeypatch.setattr(importer, "BATCH_SIZE", 5)
    calls = {"n": 0}
    real = importer.write_batch

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "write_batch", failing)
    with pytest.raises(RuntimeError):
        cli(instance, "import", str(FIX / "netscape/firefox-export.html"))
    assert calls["n"] == 3
    assert rows(instance) == before


def test_imported_bookmarks_are_searchable_and_not_federated(instance):
    cli(instance, "import", str(FIX / "pinboard/pinboard-export-betula.json"))
    engine = make_engine(instance["url"])
    with engine.connect() as conn:
        found = search(conn, "suite", owner=True, size=10)
        assert [item["url"] for item in found.items] == ["https://sourcehut.org/"]
        assert conn.execute(select(func.count()).select_from(OutboxActivity)).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize("fmt", ["netscape", "pinboard"])
def test_export_import_export_round_trip(instance, tmp_path, fmt):
    cli(instance, "import", str(FIX / "netscape/firefox-export.html"))
    cli(instance, "import", str(FIX / "netscape/shaarli-basic.htm"))
    first = tmp_path / f"first.{fmt}"
    result = cli(instance, "export", "--format", fmt, str(first))
    assert result.exit_code == 0 and "Exported 29 bookmarks" in result.output
    if instance["url"].startswith("postgresql"):  # one server database: empty it for the second instance
        truncate_postgres(instance["url"])
        fresh = instance
    else:
        folder = tmp_path / "fresh"
        assert run("init", "--dir", str(folder), "--username", "bo", env=instance["env"]).exit_code == 0
        fresh = {"config": folder / "config.toml", "env": instance["env"]}
    imported = cli(fresh, "import", str(first))
    assert "29 added" in imported.output, imported.output
    second = tmp_path / f"second.{fmt}"
    assert cli(fresh, "export", "--format", fmt, str(second)).exit_code == 0
    assert second.read_text() == first.read_text()
    stdout = cli(fresh, "export", "--format", fmt, "-")
    assert stdout.stdout == first.read_text()


def test_export_to_a_missing_folder_is_one_line(instance, tmp_path):
    result = cli(instance, "export", str(tmp_path / "nowhere" / "out.html"))
    assert result.exit_code == 1 and "cannot write" in result.output and "Traceback" not in result.output


def test_the_to_read_flag_is_kept_and_exported(instance, tmp_path):
    file = _write(tmp_path, "toread.html", _netscape(
        '<DT><A HREF="https://later.example/" TOREAD="1">Later</A>\n',
        '<DT><A HREF="https://done.example/" TOREAD="0">Done</A>\n'))
    assert "2 added" in cli(instance, "import", file).output
    pinboard = _write(tmp_path, "toread.json", '[{"href": "https://pb.example/", "toread": "yes"},'
                                               ' {"href": "https://pb2.example/", "toread": "no"}]')
    assert "2 added" in cli(instance, "import", pinboard).output
    stored = rows(instance)
    assert {u for u, r in stored.items() if r["toread"]} == {"https://later.example/", "https://pb.example/"}
    html_out, json_out = tmp_path / "out.html", tmp_path / "out.json"
    assert cli(instance, "export", str(html_out)).exit_code == 0
    assert cli(instance, "export", "--format", "pinboard", str(json_out)).exit_code == 0
    assert html_out.read_text().count('TOREAD="1"') == 2
    exported = {item["href"]: item["toread"] for item in __import__("json").loads(json_out.read_text())}
    assert exported == {"https://later.example/": "yes", "https://done.example/": "no",
                        "https://pb.example/": "yes", "https://pb2.example/": "no"}


def test_merged_tags_are_cut_at_the_limit_with_a_note(instance, tmp_path):
    first = ",".join(f"a{n}" for n in range(30))
    second = ",".join(f"b{n}" for n in range(30))
    file = _write(tmp_path, "many.html", _netscape(
        f'<DT><A HREF="https://tags.example/" TAGS="{first}">T</A>\n',
        f'<DT><A HREF="https://tags.example/" TAGS="{second}">T</A>\n'))
    result = cli(instance, "import", "--duplicates", "merge", file)
    assert result.exit_code == 0 and "1 added, 1 merged" in result.output, result.output
    assert "note: https://tags.example/: merged tags cut to the limit of 50; left out: b20 b21" in result.output
    row = rows(instance)["https://tags.example/"]
    assert len(row["tags_text"].split()) == 50 and len(row["links"]) == 50
    # merging into the stored bookmark is cut the same way, and no unused tag is left behind
    again = _write(tmp_path, "more.html", _netscape(
        '<DT><A HREF="https://tags.example/" TAGS="c1,c2">T</A>\n'))
    result = cli(instance, "import", "--duplicates", "merge", again)
    assert "left out: c1 c2" in result.output, result.output
    assert len(rows(instance)["https://tags.example/"]["links"]) == 50
    engine = make_engine(instance["url"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Tag).where(Tag.name.in_(["c1", "c2"]))).scalar() == 0
    engine.dispose()


def _add_follower(inst) -> None:  # noqa: ANN001
    from linkblog.models import Follower, RemoteActor

    engine = make_engine(inst["url"])
    with engine.begin() as conn:
        actor = conn.execute(RemoteActor.__table__.insert().values(
            uri="https://social.example/users/fan", inbox="https://social.example/users/fan/inbox",
            shared_inbox="https://social.example/inbox", handle="fan@social.example")
            .returning(RemoteActor.__table__.c.id)).scalar_one()
        conn.execute(Follower.__table__.insert().values(actor_id=actor, follow_uri="https://social.example/f/1",
                                                       state="accepted"))
    engine.dispose()


def test_announce_since_sends_only_the_newer_imported_bookmarks(instance, tmp_path):
    from linkblog.models import Delivery

    _add_follower(instance)
    file = _write(tmp_path, "dated.html", _netscape(
        '<DT><A HREF="https://old.example/" ADD_DATE="1577836800">Old</A>\n',           # 2020-01-01
        '<DT><A HREF="https://new2.example/" ADD_DATE="1763683200">Newer</A>\n',        # 2025-11-21
        '<DT><A HREF="https://secret.example/" ADD_DATE="1763683200" PRIVATE="1">S</A>\n',
        '<DT><A HREF="https://new1.example/" ADD_DATE="1763596800">New</A>\n'))         # 2025-11-20
    bad = cli(instance, "import", "--announce-since", "last week", file)
    assert bad.exit_code == 2 and "is not a date" in bad.output and rows(instance) == {}
    result = cli(instance, "import", "--announce-since", "2025-11-01", file)
    assert "4 added" in result.output and "Announced to followers: 2" in result.output, result.output
    engine = make_engine(instance["url"])
    with engine.connect() as conn:
        sent = conn.execute(select(OutboxActivity.type, OutboxActivity.payload).order_by(OutboxActivity.id)).all()
        inboxes = conn.execute(select(Delivery.inbox)).scalars().all()
    engine.dispose()
    assert [kind for kind, _ in sent] == ["Create", "Create"]
    ids = [rows(instance)[u]["id"] for u in ("https://new1.example/", "https://new2.example/")]
    assert [f"/bookmarks/{i}\"" in payload for (_, payload), i in zip(sent, ids)] == [True, True]  # oldest first
    assert inboxes == ["https://social.example/inbox"] * 2


def test_without_announce_since_nothing_is_queued_even_with_followers(instance, tmp_path):
    _add_follower(instance)
    assert "27 added" in cli(instance, "import", str(FIX / "netscape/firefox-export.html")).output
    engine = make_engine(instance["url"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxActivity)).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize("path, folder_tag", [
    ("netscape/shaarli-nested.htm", "folder1"), ("browser-json/chrome-bookmarks.json", "barre-de-favoris"),
])
def test_no_folders_as_tags(instance, path, folder_tag):
    result = cli(instance, "import", "--no-folders-as-tags", str(FIX / path))
    assert result.exit_code == 0, result.output
    assert not any(folder_tag in row["tags_text"].split() for row in rows(instance).values())


def test_folders_become_tags_by_default(instance):
    assert cli(instance, "import", str(FIX / "browser-json/chrome-bookmarks.json")).exit_code == 0
    assert any("barre-de-favoris" in row["tags_text"].split() for row in rows(instance).values())
