"""What the owner saved on /admin/settings survives a backup and restore: the stored settings, the Markdown bio
with its HTML, and the avatar's bytes (base64 in the file), on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image
from sqlalchemy import Engine, insert, select

from linkblog import create_app, settings
from linkblog.config import load_config
from linkblog.db import make_engine, utcnow
from linkblog.migrate import upgrade
from linkblog.models import AVATARS, OWNER_TABLE, SETTINGS, Owner
from linkblog.transfer.backup import restore_backup, write_backup
from tests.support.app import BASE_URL, PG_URL
from tests.support.live import drop_postgres_database, new_postgres_database


@pytest.fixture
def empty_instance(tmp_path: Path, sqlite_template: Path, database_url: str, key_pair) -> Iterator:
    """A new instance on the same kind of database as the test's: migrated, an owner, a config file."""
    name = None
    if database_url.startswith("postgresql"):
        url, name = new_postgres_database(PG_URL)
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        shutil.copy(sqlite_template, tmp_path / "new.db")
        url = f"sqlite:///{tmp_path / 'new.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Owner).values(id=1, username="newbie", display_name="", summary="", password_hash="x",
                                          session_epoch=1, private_key_pem=key_pair[0], public_key_pem=key_pair[1],
                                          created_at=utcnow()))
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[site]\nbase_url = "{BASE_URL}"\n\n[database]\nurl = "{url}"\n\n'
                           f'[security]\nsecret_key = "{"s" * 40}"\n')
    yield engine, config_file
    engine.dispose()
    if name:
        drop_postgres_database(PG_URL, name)


def snapshot(engine: Engine) -> tuple:
    with engine.connect() as conn:
        stored = sorted(conn.execute(select(SETTINGS.c.key, SETTINGS.c.value)).all())
        owner = conn.execute(select(OWNER_TABLE.c.display_name, OWNER_TABLE.c.summary, OWNER_TABLE.c.summary_html,
                                    OWNER_TABLE.c.avatar_digest)).one()
        avatars = conn.execute(select(AVATARS.c.digest, AVATARS.c.media_type, AVATARS.c.data)).all()
    return stored, tuple(owner), [(d, m, bytes(b)) for d, m, b in avatars]


def test_saved_settings_profile_and_avatar_survive_backup_and_restore(engine, config, empty_instance):
    picture = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 60)).save(picture, "JPEG")
    checked = settings.check({"display_name": "Ada", "bio": "Reads *a lot*.", "title": "Ada's links",
                              "description": "Saved by Ada.", "timezone": "Europe/Berlin",
                              "default_visibility": "followers", "manually_approves_followers": "on"},
                             picture.getvalue(), config)
    settings.save(engine, config, checked)
    before = snapshot(engine)
    assert len(before[0]) == 5 and before[1][2] == "<p>Reads <em>a lot</em>.</p>\n" and len(before[2]) == 1

    out = io.StringIO()
    write_backup(engine, config, out, include_keys=False)
    document = json.loads(out.getvalue())
    assert [row["key"] for row in document["tables"]["settings"]] == sorted(k for k, _ in before[0])
    assert document["owner"]["avatar_digest"] == before[2][0][0]

    target, config_file = empty_instance
    restore_backup(target, load_config(config_file, environ={}), io.StringIO(out.getvalue()))
    assert snapshot(target) == before  # the avatar's bytes too, through base64

    restored = load_config(config_file, environ={})
    assert restored.get("site", "title") == "My links"  # the file keeps config.toml's value ...
    assert settings.load(target, restored).get("site", "title") == "Ada's links"  # ... the saved one wins
    app = create_app(restored)
    reader = app.test_client()
    assert "<title>Ada&#39;s links</title>" in reader.get("/").get_data(as_text=True)
    person = reader.get("/actor", headers={"Accept": "application/activity+json"}).get_json()
    assert person["name"] == "Ada" and person["manuallyApprovesFollowers"] is True
    avatar = reader.get(person["icon"]["url"].removeprefix(BASE_URL))
    assert avatar.status_code == 200 and avatar.data == before[2][0][2]
    app.extensions["linkblog"].engine.dispose()
