"""Full backup and restore on real databases: export -> restore into a new instance -> export is byte-identical
(SQLite, PostgreSQL, and across them), the restored instance answers the same ids, and bad input changes nothing."""
from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, func, insert, select, update

from tests.support.app import BASE_URL, OWNER, PASSWORD, PG_URL, login
from linkblog import bookmarks, create_app, tokens, weeknotes
from linkblog.transfer.backup import TABLES, BackupError, restore_backup, write_backup
from linkblog.config import load_config
from linkblog.db import make_engine, utcnow
from linkblog.links import copies
from linkblog.federation.keys import generate_key_pair
from linkblog.migrate import head_revision, upgrade
from linkblog.models import (PAGE_COPIES, BlockedActor, Bookmark, Follower, Following, Interaction, Owner,
                             RemoteActor, RemotePost)
from linkblog.passwords import hash_password
from linkblog.queries.search import search
from tests.support.live import drop_postgres_database, new_postgres_database

NEW_BASE = "http://new.test"
NEW_PASSWORD = "a brand new instance password"


@dataclass
class Target:
    """A freshly initialised instance: migrated database, owner with its own keys, a config file."""

    engine: Engine
    config_file: Path
    url: str

    @property
    def config(self):  # noqa: ANN201
        return load_config(self.config_file, environ={})


@pytest.fixture(scope="session")
def new_keys() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture
def new_instance(tmp_path: Path, sqlite_template: Path, new_keys) -> Iterator:  # noqa: ANN001
    """``new_instance(kind)`` -> a Target on 'sqlite' or 'postgresql', as `linkblog init` leaves it."""
    made: list[tuple[Engine, str | None]] = []

    def make(kind: str) -> Target:
        folder = tmp_path / f"new{len(made)}"
        folder.mkdir()
        name = None
        if kind == "sqlite":
            shutil.copy(sqlite_template, folder / "linkblog.db")
            url = f"sqlite:///{folder / 'linkblog.db'}"
        else:
            if not PG_URL:
                pytest.skip("LINKBLOG_TEST_DATABASE_URL is not set")
            url, name = new_postgres_database(PG_URL)
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = make_engine(url)
        made.append((engine, name))
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(Owner).values(id=1, username="newbie", display_name="newbie", summary="",
                                              password_hash=hash_password(NEW_PASSWORD), session_epoch=1,
                                              private_key_pem=new_keys[0], public_key_pem=new_keys[1],
                                              created_at=utcnow()))
        config_file = folder / "config.toml"
        config_file.write_text(f'[site]\nbase_url = "{NEW_BASE}"\ntitle = "Fresh"\n\n[server]\nport = 8123\n\n'
                               f'[database]\nurl = "{url}"\n\n[security]\nsecret_key = "{"s" * 40}"\n')
        return Target(engine, config_file, url)

    yield make
    for engine, name in made:
        engine.dispose()
        if name:
            drop_postgres_database(PG_URL, name)


def populate(engine: Engine, config: Any) -> dict[str, int]:
    """Everything a lived-in instance has, written through the real code paths where there are some."""
    now = utcnow()
    ids: dict[str, int] = {}
    A = RemoteActor.__table__
    with engine.begin() as conn:
        actors = [conn.execute(insert(A).values(
            uri=f"https://r{n}.example/users/u{n}", inbox=f"https://r{n}.example/users/u{n}/inbox",
            shared_inbox=f"https://r{n}.example/inbox" if n else None, handle=f"u{n}@r{n}.example",
            display_name=f"Ü{n} ✓", key_id=f"https://r{n}.example/users/u{n}#main-key",
            public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", fetched_at=now,
            created_at=now).returning(A.c.id)).scalar_one() for n in range(3)]
        conn.execute(insert(Follower), [
            {"actor_id": actors[0], "follow_uri": "https://r0.example/follows/1", "state": "accepted",
             "created_at": now},
            {"actor_id": actors[1], "follow_uri": "https://r1.example/follows/2", "state": "pending",
             "created_at": now}])
        conn.execute(insert(Following).values(actor_id=actors[2], follow_uri=f"{BASE_URL}/activities/follow-1",
                                              state="accepted", created_at=now))
        conn.execute(insert(BlockedActor).values(uri="https://spam.example/users/x", created_at=now))
        conn.execute(update(Owner).where(Owner.id == 1).values(
            display_name="The Ówner", summary="<p>links, mostly</p>", also_known_as="https://old.example/users/me"))
    with engine.begin() as conn:
        def save(url: str, title: str, visibility: str, tags: list[str], **extra: Any) -> int:
            item = bookmarks.validate({"url": url, "title": title, "annotation": f"About *{title}*",
                                       "tags": tags, "visibility": visibility})
            return bookmarks.create(conn, item, config=config, **extra)

        ids["public"] = save("https://example.org/a", "Alpha pangolin", "public", ["python", "web"])
        ids["unlisted"] = save("https://example.org/b", "Beta heron", "unlisted", ["web"])
        ids["private"] = save("https://example.org/c", "Secret aardvark", "private", ["mine"])
        ids["followers"] = save("https://example.org/d", "Delta otter", "followers", [])
        ids["via"] = save("https://example.org/e", "Echo lynx", "public", ["found"],
                          via=("https://r2.example/users/u2", "https://r2.example/notes/1"))
        ids["deleted"] = save("https://example.org/gone", "Doomed", "public", ["gone"])
        conn.execute(update(Bookmark).where(Bookmark.id == ids["unlisted"]).values(toread=True))
        bookmarks.remove(conn, ids["deleted"], config=config)  # the highest id: a Tombstone and a Delete
        tokens.create_token(conn, "phone")
        ids["weeknote"] = weeknotes.save(conn, weeknotes.validate(
            {"week": "2026-W10", "title": "Week ten", "body": "Hello *week*", "status": "published"}),
            config=config)
        weeknotes.save(conn, weeknotes.validate({"week": "2026-W11", "title": "Draft", "body": "not yet"}),
                       config=config)
        conn.execute(insert(Interaction), [
            {"kind": "reply", "uri": "https://r0.example/notes/9", "activity_uri": "https://r0.example/act/9",
             "actor_id": actors[0], "target_kind": "b", "target_id": ids["public"],
             "in_reply_to": f"{BASE_URL}/bookmarks/{ids['public']}", "content_html": "<p>Nice find</p>",
             "url": "https://r0.example/@u0/9", "state": "visible", "published": now, "updated_at": now},
            {"kind": "like", "uri": "https://r1.example/likes/1", "activity_uri": None, "actor_id": actors[1],
             "target_kind": "b", "target_id": ids["public"], "in_reply_to": None, "content_html": "",
             "url": None, "state": "visible", "published": now, "updated_at": now},
            {"kind": "announce", "uri": "https://r2.example/boosts/1", "activity_uri": None,
             "actor_id": actors[2], "target_kind": "w", "target_id": ids["weeknote"], "in_reply_to": None,
             "content_html": "", "url": None, "state": "visible", "published": now, "updated_at": now}])
        copies.queue(conn, ids["public"], "https://example.org/a")  # a kept copy, compressed, and one queued
        conn.execute(update(PAGE_COPIES).where(PAGE_COPIES.c.bookmark_id == ids["public"]).values(
            state="done", status=200, final_url="https://example.org/a", title="Alpha", fetched_at=now,
            html_z=copies.compress("<p>The quokka smiles at the camera.</p>"), text="The quokka smiles at the camera."))
        copies.queue(conn, ids["private"], "https://example.org/c")
        conn.execute(insert(RemotePost).values(uri="https://r2.example/notes/1", actor_id=actors[2],
                                               link_url="https://example.org/e", title="Echo", published=now,
                                               content_html="<p>see</p>", created_at=now))
    return ids


def backup_text(engine: Engine, config: Any, include_keys: bool = False) -> str:
    out = io.StringIO()
    write_backup(engine, config, out, include_keys)
    return out.getvalue()


def restore_text(target: Target, text: str):  # noqa: ANN201
    return restore_backup(target.engine, target.config, io.StringIO(text))


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one() for name, t in TABLES.items()}


def owner_row(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Owner.__table__)).mappings().one())


def kind_of(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.mark.parametrize("include_keys", [False, True])
def test_export_restore_export_is_byte_identical(engine, config, database_url, new_instance, include_keys):
    populate(engine, config)
    first = backup_text(engine, config, include_keys)
    target = new_instance(kind_of(database_url))
    result = restore_text(target, first)
    assert result.counts == counts(engine) and result.counts["bookmarks"] == 5
    assert backup_text(target.engine, target.config, include_keys) == first
    assert ("PRIVATE KEY" in first) is include_keys


def test_a_restored_page_copy_is_readable_and_searchable(engine, config, database_url, new_instance):
    ids = populate(engine, config)
    target = new_instance(kind_of(database_url))
    restore_text(target, backup_text(engine, config))
    assert copies.read(target.engine, ids["public"]).html == "<p>The quokka smiles at the camera.</p>"
    with target.engine.connect() as conn:
        found = search(conn, "quokka", owner=True, size=5)
    assert [(item["id"], item["matched_in"]) for item in found.items] == [(ids["public"], "page")]


def test_sqlite_to_postgresql_and_back_is_byte_identical(new_instance, config):
    source = new_instance("sqlite")
    populate(source.engine, config)
    first = backup_text(source.engine, config, include_keys=True)
    on_postgres = new_instance("postgresql")
    restore_text(on_postgres, first)
    assert backup_text(on_postgres.engine, on_postgres.config, include_keys=True) == first
    back_on_sqlite = new_instance("sqlite")
    restore_text(back_on_sqlite, first)
    assert backup_text(back_on_sqlite.engine, back_on_sqlite.config, include_keys=True) == first


def test_the_file_is_ordered_json_without_private_key_or_machine_settings(engine, config):
    populate(engine, config)
    text = backup_text(engine, config)
    document = json.loads(text)
    assert list(document)[:3] == ["format", "version", "schema"] and document["format"] == "linkblog-backup"
    assert "PRIVATE KEY" not in text and "private_key_pem" not in document["owner"]
    assert "server" not in document["settings"] and "url" not in document["settings"].get("database", {})
    assert "secret_key" not in document["settings"]["security"] and config.secret_key not in text
    for name, rows in document["tables"].items():
        keys = [[r[c.name] for c in TABLES[name].primary_key.columns] for r in rows]
        assert keys == sorted(keys), name
    assert document["tables"]["bookmarks"][0]["created_at"].endswith("Z")
    assert document["sequences"]["bookmarks"] > max(r["id"] for r in document["tables"]["bookmarks"])


def test_a_backup_is_one_snapshot_even_while_the_site_writes(engine, config):
    """A bookmark saved while the backup is being written is wholly in it or wholly out (here: out)."""
    populate(engine, config)

    class SaveDuringBackup(io.StringIO):
        def write(self, text: str) -> int:
            if text.startswith('"owner"'):  # the snapshot is taken; the tables come later
                with engine.begin() as conn:
                    bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/late", "tags": ["late"]}))
            return super().write(text)

    out = SaveDuringBackup()
    write_backup(engine, config, out, include_keys=False)
    document = json.loads(out.getvalue())
    assert "https://example.org/late" not in {b["url"] for b in document["tables"]["bookmarks"]}
    assert "late" not in {t["name"] for t in document["tables"]["tags"]}
    assert counts(engine)["bookmarks"] == len(document["tables"]["bookmarks"]) + 1


def test_restore_without_keys_keeps_the_new_keys_and_warns(engine, config, new_instance, new_keys):
    populate(engine, config)
    target = new_instance("sqlite")
    result = restore_text(target, backup_text(engine, config))
    assert not result.keys_restored
    assert any("refetch" in w for w in result.warnings)
    owner = owner_row(target.engine)
    assert owner["public_key_pem"] == new_keys[1] and owner["private_key_pem"] == new_keys[0]
    assert owner["username"] == OWNER and owner["also_known_as"] == "https://old.example/users/me"


def test_restore_with_keys_serves_the_old_public_key(engine, config, database_url, new_instance, key_pair):
    populate(engine, config)
    target = new_instance(kind_of(database_url))
    assert restore_text(target, backup_text(engine, config, include_keys=True)).keys_restored
    client = create_app(target.config).test_client()
    actor = client.get("/actor", headers={"Accept": "application/activity+json"}).get_json()
    assert actor["publicKey"]["publicKeyPem"] == key_pair[1]
    assert actor["id"] == f"{BASE_URL}/actor" and actor["name"] == "The Ówner"
    assert actor["alsoKnownAs"] == ["https://old.example/users/me"]


def test_restored_instance_answers_the_same_ids(engine, config, database_url, new_instance):
    ids = populate(engine, config)
    target = new_instance(kind_of(database_url))
    result = restore_text(target, backup_text(engine, config))
    assert result.settings_file == target.config_file and result.base_url == BASE_URL
    restored = target.config
    assert restored.base_url == BASE_URL and restored.get("site", "page_size") == 5  # settings came along
    assert restored.get("server", "port") == 8123 and restored.database_url == target.url  # the machine's own
    assert restored.secret_key == "s" * 40 and restored.get("site", "title") == "My links"
    app = create_app(restored)
    app.config["TESTING"] = True
    reader = app.test_client()
    assert "Alpha pangolin" in reader.get(f"/bookmarks/{ids['public']}").get_data(as_text=True)
    assert reader.get(f"/bookmarks/{ids['unlisted']}").status_code == 200
    assert reader.get(f"/bookmarks/{ids['private']}").status_code == 404  # private stays private
    gone = reader.get(f"/bookmarks/{ids['deleted']}", headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410 and gone.get_json()["type"] == "Tombstone"
    assert reader.get("/weeknotes/2026-W10").status_code == 200
    assert reader.get("/weeknotes/2026-W11").status_code == 404  # the draft stays a draft
    assert "Nice find" in reader.get(f"/bookmarks/{ids['public']}").get_data(as_text=True)
    with target.engine.connect() as conn:
        assert [i["id"] for i in search(conn, "pangolin", owner=False, size=10).items] == [ids["public"]]
        assert search(conn, "aardvark", owner=False, size=10).items == []
        assert [i["id"] for i in search(conn, "aardvark", owner=True, size=10).items] == [ids["private"]]
    owner = app.test_client()
    assert login(owner, PASSWORD).status_code == 302  # the old password, not the new instance's
    assert login(app.test_client(), NEW_PASSWORD).status_code != 302
    with target.engine.begin() as conn:
        new_id = bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/new", "title": "New"}))
    assert new_id > ids["deleted"]  # a tombstoned id is never handed out again


def test_a_new_bookmark_skips_deleted_private_ids_too(engine, config, new_instance):
    with engine.begin() as conn:
        kept = bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/1", "visibility": "private"}))
        gone = bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/2", "visibility": "private"}))
        bookmarks.remove(conn, gone)  # private: no tombstone, yet the id was handed out once
    target = new_instance("sqlite")
    restore_text(target, backup_text(engine, config))
    with target.engine.begin() as conn:
        assert bookmarks.create(conn, bookmarks.validate({"url": "https://example.org/3"})) > gone > kept


def test_restore_into_a_used_instance_is_refused_and_changes_nothing(engine, config):
    populate(engine, config)
    before = backup_text(engine, config, include_keys=True)
    with pytest.raises(BackupError) as refused:
        restore_backup(engine, config, io.StringIO(before))
    assert "already has 5 bookmarks" in str(refused.value) and "linkblog init" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert backup_text(engine, config, include_keys=True) == before


def assert_untouched(target: Target, config_text: str) -> None:
    assert all(n == 0 for n in counts(target.engine).values())
    owner = owner_row(target.engine)
    assert owner["username"] == "newbie" and owner["session_epoch"] == 1
    assert target.config_file.read_text() == config_text


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_a_truncated_backup_restores_nothing(engine, config, database_url, new_instance, cut):
    populate(engine, config)
    text = backup_text(engine, config)
    target = new_instance(kind_of(database_url))
    config_text = target.config_file.read_text()
    with pytest.raises(BackupError, match=r"damaged: .*truncated.* at line \d+ column \d+\. Nothing was changed"):
        restore_text(target, text[:int(len(text) * cut)])
    assert_untouched(target, config_text)


@pytest.mark.parametrize("chunk", [1 << 16, 5])
def test_a_corrupt_row_is_reported_with_its_line(engine, config, new_instance, monkeypatch, chunk):
    monkeypatch.setattr("linkblog.transfer.jsonstream.CHUNK", chunk)  # 5: every value straddles reads
    populate(engine, config)
    lines = backup_text(engine, config).split("\n")
    number = next(n for n, line in enumerate(lines) if '"url":"https://example.org/b"' in line)
    lines[number] = lines[number].replace('"title":', '"title" ', 1)
    column = lines[number].index('"title" ') + len('"title" ') + 1
    target = new_instance("sqlite")
    config_text = target.config_file.read_text()
    with pytest.raises(BackupError, match=rf"damaged: Expecting ':' delimiter at line {number + 1} column {column}\."):
        restore_text(target, "\n".join(lines))
    assert_untouched(target, config_text)


@pytest.mark.parametrize("text, message", [
    ('[{"href": "https://example.org", "description": "a Pinboard file"}]', "not a linkblog backup"),
    ('{"posts": []}', "not a linkblog backup"),
    ("<!DOCTYPE NETSCAPE-Bookmark-file-1>", "not a linkblog backup"),
    ("", "not a linkblog backup"),
    ('{"format": "linkblog-backup", "version": 2, "schema": "0009"}', "newer linkblog (backup version 2"),
    ('{"format": "linkblog-backup", "version": 1, "schema": "0999"}', "schema '0999' is unknown"),
    ('{"format": "linkblog-backup", "version": 1, "schema": "0003"}', f"restores {head_revision()}"),
])
def test_other_files_are_refused_with_a_reason(new_instance, text, message):
    target = new_instance("sqlite")
    config_text = target.config_file.read_text()
    with pytest.raises(BackupError, match=re.escape(message)):
        restore_text(target, text)
    assert_untouched(target, config_text)


def test_a_bad_value_names_table_row_and_column(engine, config, new_instance):
    populate(engine, config)
    document = json.loads(backup_text(engine, config))
    document["tables"]["bookmarks"][1]["created_at"] = "yesterday"
    target = new_instance("sqlite")
    with pytest.raises(BackupError, match="bookmarks row 2 created_at must be a time"):
        restore_text(target, json.dumps(document))
    assert_untouched(target, (target.config_file.read_text()))


def test_settings_keep_the_machine_and_a_required_address_left_out(engine, config, new_instance):
    document = json.loads(backup_text(engine, config))
    del document["settings"]["site"]["base_url"]
    document["settings"]["site"]["title"] = 'Links "and" notes\nsecond line'
    target = new_instance("sqlite")
    result = restore_text(target, json.dumps(document))
    restored = target.config
    assert restored.base_url == NEW_BASE == result.base_url  # kept: the instance must still start
    assert restored.get("site", "title") == 'Links "and" notes\nsecond line'
    assert restored.get("server", "port") == 8123 and restored.secret_key == "s" * 40
    assert oct(target.config_file.stat().st_mode & 0o777) == "0o600"


def test_rows_the_database_refuses_restore_nothing(engine, config, database_url, new_instance):
    populate(engine, config)
    document = json.loads(backup_text(engine, config))
    copy = dict(document["tables"]["bookmarks"][0], id=999)  # the same URL twice
    document["tables"]["bookmarks"].append(copy)
    target = new_instance(kind_of(database_url))
    config_text = target.config_file.read_text()
    with pytest.raises(BackupError, match=r"bookmarks rows 1 to 6: the database refused them \(.+\)\. Nothing"):
        restore_text(target, json.dumps(document))
    assert_untouched(target, config_text)


@pytest.mark.parametrize("chunk", [1 << 16, 3])
def test_pretty_printed_backups_restore_too(engine, config, new_instance, monkeypatch, chunk):
    """The reader is not tied to our line layout: a backup reformatted by jq or an editor still restores."""
    monkeypatch.setattr("linkblog.transfer.jsonstream.CHUNK", chunk)
    populate(engine, config)
    text = backup_text(engine, config)
    target = new_instance("sqlite")
    restore_text(target, json.dumps(json.loads(text), indent=3, ensure_ascii=True))
    assert backup_text(target.engine, target.config) == text


# --- the real command, as separate processes ------------------------------------------------------------------


@pytest.mark.slow  # real `linkblog init`, `serve`, `export` and `import` processes
@pytest.mark.parametrize("target_database", ["sqlite", "postgresql"])
def test_backup_and_restore_with_the_real_command(tmp_path, target_database):
    """`linkblog export --backup` on a served instance, `linkblog init` elsewhere, `linkblog import --backup`
    there, then `linkblog serve` answers the same pages with the same key."""
    import subprocess

    from tests.support.live import SCRIPT, Instance

    source = Instance(tmp_path / "old").init()
    source.start()
    try:
        status, saved = source.api("POST", "/api/bookmarks", {"url": "https://example.org/kept", "title": "Kept ibis",
                                                               "tags": ["birds"], "visibility": "public"})
        assert status == 201, saved
        status, doomed = source.api("POST", "/api/bookmarks", {"url": "https://example.org/doomed", "title": "Doomed"})
        assert source.api("DELETE", f"/api/bookmarks/{doomed['id']}")[0] == 204
        _, actor = source.get_json(source.actor)
    finally:
        source.stop()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    exported = source.cli("export", "--backup", "--include-keys", str(first))
    assert "1 bookmarks" in exported.stdout and "keep it private" in exported.stdout
    assert oct(first.stat().st_mode & 0o777) == "0o600"

    refused = source.cli("import", "--backup", str(first), check=False)  # the old instance is not empty
    assert refused.returncode == 1 and "already has 1 bookmarks" in refused.stderr
    assert "Traceback" not in refused.stderr
    mixed = source.cli("export", "--backup", "--format", "pinboard", str(second), check=False)
    assert mixed.returncode == 2 and "--format cannot be combined with --backup" in mixed.stderr

    database, name = (None, None)
    if target_database == "postgresql":
        if not PG_URL:
            pytest.skip("LINKBLOG_TEST_DATABASE_URL is not set")
        database, name = new_postgres_database(PG_URL)
    target = Instance(tmp_path / "new", database_url=database)
    try:
        made = subprocess.run([str(SCRIPT), "init", "--dir", str(target.directory), "--base-url", target.base_url],
                              capture_output=True, text=True, env=target.env, timeout=60)
        assert made.returncode == 0, made.stdout + made.stderr
        restored = target.cli("import", "--backup", str(first))
        assert "Restored from" in restored.stdout and "1 bookmarks" in restored.stdout
        assert f"Settings written to {target.config_file}" in restored.stdout
        target.cli("export", "--backup", "--include-keys", str(second))
        assert second.read_bytes() == first.read_bytes()
        target.start()
        try:
            assert "Kept ibis" in target.page(f"/bookmarks/{saved['id']}")
            assert target.get_json(f"{target.base_url}/bookmarks/{doomed['id']}")[0] == 410
            _, restored_actor = target.get_json(target.actor)
            assert restored_actor["publicKey"]["publicKeyPem"] == actor["publicKey"]["publicKeyPem"]
            assert restored_actor["id"] == source.actor  # the site's address came back with the settings
        finally:
            target.stop()
    finally:
        if name:
            drop_postgres_database(PG_URL, name)


@pytest.mark.parametrize("args, message", [
    (["import", "--backup", "f.json", "--format", "netscape"], "--format cannot be combined with --backup"),
    (["import", "--backup", "f.json", "--duplicates", "merge"], "--duplicates cannot be combined with --backup"),
    (["import", "--backup", "f.json", "--announce-since", "2026-01-01"], "--announce-since cannot be combined"),
    (["import", "--backup", "f.json", "--private"], "--private cannot be combined with --backup"),
    (["export", "--include-keys", "f.json"], "--include-keys only goes with --backup"),
])
def test_backup_flags_do_not_mix_with_bookmark_file_options(tmp_path, args, message):
    from tests.support.cli import run

    result = run(*args, env={"LINKBLOG_CONFIG": str(tmp_path / "config.toml")})
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "f.json").exists()
