"""The worker's health as the owner sees it, and as a service manager sees it: each worker cycle writes a
heartbeat the delivery page and the dashboard show (and a silent worker is called out), and
``linkblog worker`` exits non-zero when it cannot go on (bad config, a database that stays unreachable), so
systemd (Restart=on-failure) or ``linkblog serve`` restarts it."""
from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from linkblog.config import load_config
from linkblog.db import make_engine, utcnow
from linkblog.federation import health, worker
from linkblog.migrate import upgrade
from linkblog.models import DELIVERIES, OWNER_TABLE, WORKER_HEALTH

from tests.faults.peers import add_followers
from tests.support.app import BASE_URL, OWNER, make_config
from tests.support.aio import run_async
from tests.support.cli import run
from tests.support.live import drop_postgres_database, new_postgres_database


def run_worker_once(config) -> None:  # noqa: ANN001
    async def go() -> None:
        await worker.run(config, asyncio.Event(), once=True)
    run_async(go)


def test_the_delivery_page_shows_when_the_worker_last_made_progress(engine, owner, make_bookmark, loopback_config,
                                                                    inboxes):
    page = owner.get("/admin/deliveries").get_data(as_text=True)
    assert "No worker has reported" in page and "none in the last day" in page
    assert "not running" in owner.get("/admin/").get_data(as_text=True)

    add_followers(engine, [inboxes.inbox(1)])
    make_bookmark("https://example.org/progress", "Progress", federate=loopback_config)
    run_worker_once(loopback_config)
    with engine.connect() as conn:
        beat = conn.execute(select(WORKER_HEALTH)).one()
        assert conn.execute(select(DELIVERIES.c.state)).scalar_one() == "done"
    assert beat.progress_at is not None and beat.beat_at >= beat.progress_at
    page = owner.get("/admin/deliveries").get_data(as_text=True)
    assert "No worker has reported" not in page
    stamp = beat.progress_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert f'class="worker-progress"><time datetime="{stamp}' in page
    assert beat.name in page
    dashboard = owner.get("/admin/").get_data(as_text=True)
    assert "not running" not in dashboard and "last progress" in dashboard


def test_an_idle_worker_still_beats_and_progress_is_kept(engine, loopback_config):
    run_worker_once(loopback_config)                      # nothing to do: a heartbeat, no progress
    with engine.connect() as conn:
        beat = conn.execute(select(WORKER_HEALTH)).one()
    assert beat.progress_at is None and utcnow() - beat.beat_at < timedelta(minutes=1)


def test_a_worker_silent_for_minutes_is_called_out(engine, owner):
    long_ago = utcnow() - timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(insert(WORKER_HEALTH).values(name="vps:4242", started_at=long_ago - timedelta(hours=1),
                                                  beat_at=long_ago, progress_at=long_ago))
    page = owner.get("/admin/deliveries").get_data(as_text=True)
    assert "No worker has reported</strong>" not in page  # it has, but long ago:
    assert "No worker has reported since" in page and "vps:4242" in page
    assert "not running" in owner.get("/admin/").get_data(as_text=True)


# --- exiting so that it is restarted ---------------------------------------------------------------------------


def write_config(path, database_url: str) -> str:  # noqa: ANN001
    path.write_text(f'[site]\nbase_url = "{BASE_URL}"\n[security]\nsecret_key = "{"s" * 40}"\n'
                    f'[database]\nurl = "{database_url}"\n', encoding="utf-8")
    return str(path)


def test_worker_exits_non_zero_when_the_database_cannot_be_reached(tmp_path, monkeypatch):
    monkeypatch.setattr(health, "DATABASE_PATIENCE", 1.0)  # retried this long, as at boot, then given up
    config = write_config(tmp_path / "config.toml", f"sqlite:///{tmp_path}/no/such/folder/linkblog.db")
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=run("--config", config, "worker")), daemon=True)
    thread.start()
    thread.join(timeout=30)  # patience 1 s: a worker that retries forever is still there after 30
    assert "result" in outcome, "the worker kept retrying an unreachable database instead of exiting"
    result = outcome["result"]
    assert result.exit_code != 0
    assert "cannot reach the database" in result.output and "[database] url" in result.output


def test_worker_exits_non_zero_on_a_bad_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[site]\nbase_url = "not a url"\n', encoding="utf-8")
    result = run("--config", str(config), "worker")
    assert result.exit_code != 0 and "[site] base_url" in result.output


def test_a_running_worker_stops_with_an_error_when_its_database_goes_away(postgres_server, key_pair, monkeypatch):
    """PostgreSQL: the database is dropped under a running worker (its connections are terminated, and every
    new one is refused). The worker must not loop on errors forever: after its patience it raises
    ``WorkerFatal`` (``linkblog worker`` exits non-zero with the message)."""
    monkeypatch.setattr(health, "DATABASE_PATIENCE", 2.0)
    url, name = new_postgres_database(postgres_server)
    try:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(OWNER_TABLE).values(id=1, username=OWNER, password_hash="x", session_epoch=1,
                                                    private_key_pem=key_pair[0], public_key_pem=key_pair[1]))
        engine.dispose()
        config = load_config(None, environ={}, overrides={("site", "base_url"): BASE_URL,
                                                          ("security", "secret_key"): "t" * 40,
                                                          ("database", "url"): url})
        outcome: dict = {}
        started = threading.Event()

        def target() -> None:
            async def go() -> None:
                started.set()
                await worker.run(config, asyncio.Event())
            try:
                asyncio.run(go())
            except BaseException as exc:  # noqa: BLE001  (looked at by the test)
                outcome["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        assert started.wait(10)
        check = make_engine(url)
        for _ in range(100):  # until its first heartbeat: it is running
            with check.connect() as conn:
                if conn.execute(select(WORKER_HEALTH)).first() is not None:
                    break
            threading.Event().wait(0.1)
        check.dispose()
        drop_postgres_database(postgres_server, name)
        thread.join(timeout=30)  # patience 2 s; a worker that loops forever is still there after 30
        assert not thread.is_alive(), "the worker kept looping on a database that is gone"
        assert isinstance(outcome.get("error"), health.WorkerFatal)
        assert "unreachable" in str(outcome["error"])
    finally:
        drop_postgres_database(postgres_server, name)


def test_config_refuses_a_lease_shorter_than_a_batch_can_run(database_url):
    from linkblog.config import ConfigError

    with pytest.raises(ConfigError, match="delivery_lease must be at least 8 x delivery_timeout"):
        make_config(database_url, **{"federation.delivery_lease": 60, "federation.delivery_timeout": 10})
    assert make_config(database_url, **{"federation.delivery_lease": 80}).get("federation", "delivery_lease") == 80
    longer = make_config(database_url, **{"federation.delivery_timeout": 60})  # lease not set: it grows with it
    assert longer.get("federation", "delivery_lease") == 480
