"""The `linkblog` command, run as a user would (click's runner on real files and databases)."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, insert, select

from linkblog.db import make_engine, utcnow
from linkblog.migrate import current_revision, head_revision
from linkblog.account import record_login_failure
from linkblog import tokens
from linkblog.models import LOGIN_FAILURES, ApiToken, InboxActivity, Owner
from linkblog.passwords import verify_password

from tests.support.cli import run


def test_init_creates_config_database_owner_and_keys(instance):
    assert "Owner login: ada" in instance["output"]
    config = instance["config"]
    assert config.exists() and oct(config.stat().st_mode & 0o777) == "0o600"
    assert "secret_key" in config.read_text()
    engine = make_engine(instance["url"])
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        owner = conn.execute(select(Owner)).one()
    assert owner.username == "ada"
    assert verify_password(instance["password"], owner.password_hash)
    assert owner.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert owner.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert instance["password"] not in config.read_text()


def test_init_refuses_to_overwrite(instance):
    result = run("init", "--dir", str(instance["dir"]), env=instance["env"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output


def test_init_rejects_a_bad_base_url(tmp_path):
    result = run("init", "--dir", str(tmp_path / "x"), "--base-url", "links.example.org")
    assert result.exit_code == 1
    assert "[site] base_url must be an absolute http(s) URL" in result.output
    assert not (tmp_path / "x" / "config.toml").exists()


def test_db_upgrade_is_idempotent(instance):
    result = run("--config", str(instance["config"]), "db", "upgrade", env=instance["env"])
    assert result.exit_code == 0
    assert "already current" in result.output


def test_passwd_generate_changes_the_password(instance):
    result = run("--config", str(instance["config"]), "passwd", "--generate", env=instance["env"])
    assert result.exit_code == 0
    new = re.search(r"New password: (\S+)", result.output).group(1)
    with make_engine(instance["url"]).connect() as conn:
        owner = conn.execute(select(Owner)).one()
    assert verify_password(new, owner.password_hash)
    assert not verify_password(instance["password"], owner.password_hash)
    assert owner.session_epoch == 2


def test_passwd_lifts_the_login_pauses(instance):
    """Strangers can pause logins for the whole account (the per-account limit); the owner at the server's
    shell lifts the pause with a new password."""
    with make_engine(instance["url"]).begin() as conn:
        for n in range(40):
            record_login_failure(conn, f"203.0.113.{n}", owner_account=True)
    result = run("--config", str(instance["config"]), "passwd", "--generate", env=instance["env"])
    assert result.exit_code == 0 and "Forgot 40 failed login(s)" in result.output
    with make_engine(instance["url"]).connect() as conn:
        assert conn.execute(select(func.count()).select_from(LOGIN_FAILURES)).scalar_one() == 0


def test_passwd_prompts_and_refuses_short_passwords(instance):
    result = run("--config", str(instance["config"]), "passwd", input="short\nshort\n", env=instance["env"])
    assert result.exit_code == 1 and "at least 10 characters" in result.output


def test_token_create_list_revoke(instance):
    config = str(instance["config"])
    created = run("--config", config, "token", "create", "phone", env=instance["env"])
    assert created.exit_code == 0
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("lb_")
    again = run("--config", config, "token", "create", "phone", env=instance["env"])
    assert again.exit_code == 1 and "already exists" in again.output
    listed = run("token", "list", env={**instance["env"], "LINKBLOG_CONFIG": config})
    assert "phone" in listed.output and secret not in listed.output
    with make_engine(instance["url"]).connect() as conn:
        stored = conn.execute(select(ApiToken.token_hash)).scalar_one()
    assert secret not in stored
    revoked = run("--config", config, "token", "revoke", "phone", env=instance["env"])
    assert revoked.exit_code == 0
    twice = run("--config", config, "token", "revoke", "phone", env=instance["env"])
    assert twice.exit_code == 1 and "no active token" in twice.output


def test_token_create_pinboard_prints_user_and_token_and_marks_it(instance):
    """--pinboard: the token as Pinboard apps take it (USER:TOKEN), with the server to type in; only this kind
    is accepted in a /v1/ query string."""
    config = str(instance["config"])
    created = run("--config", config, "token", "create", "phone-app", "--pinboard", env=instance["env"])
    assert created.exit_code == 0, created.output
    assert "https://links.example.org/v1/" in created.output
    user, _, secret = created.output.strip().splitlines()[-1].partition(":")
    assert user == "ada" and secret.startswith("lb_")
    run("--config", config, "token", "create", "script", env=instance["env"])
    with make_engine(instance["url"]).connect() as conn:
        kinds = dict(conn.execute(select(ApiToken.name, ApiToken.query_string_allowed)).all())
        assert tokens.authenticate(conn, secret, from_query_string=True) is not None
    assert kinds == {"phone-app": True, "script": False}
    listed = run("--config", config, "token", "list", env=instance["env"]).output.splitlines()
    assert [line.endswith("\tpinboard") for line in listed] == [True, False]


def test_commands_without_config_explain_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("serve", env={"LINKBLOG_CONFIG": ""})
    assert result.exit_code == 1
    assert "run `linkblog init` first" in result.output


def test_serve_with_a_bad_setting_prints_one_line(instance):
    result = run("--config", str(instance["config"]), "serve",
                 env={**instance["env"], "LINKBLOG_SERVER_PORT": "99999"})
    assert result.exit_code == 1
    assert "[server] port must be a whole number from 1 to 65535" in result.output
    assert "Traceback" not in result.output


def test_prune_removes_old_inbound_activities_and_keeps_recent_ones(instance):
    engine = make_engine(instance["url"])
    now = utcnow()   # the command prunes as of the real clock
    try:
        with engine.begin() as conn:
            for name, age in (("old", timedelta(days=31)), ("recent", timedelta(hours=1))):
                conn.execute(insert(InboxActivity).values(
                    uri=f"https://remote.example/activities/{name}", actor_uri="https://remote.example/users/a",
                    type="Like", payload="{}", state="done", received_at=now - age, processed_at=now - age))
        result = run("--config", str(instance["config"]), "prune", env=instance["env"])
        assert result.exit_code == 0, result.output
        assert "deleted 1 inbox ids" in result.output
        with engine.connect() as conn:
            assert conn.execute(select(InboxActivity.uri)).scalars().all() == [
                "https://remote.example/activities/recent"]
    finally:
        engine.dispose()
