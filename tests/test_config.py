"""Configuration: defaults, environment overrides, and one clear line for every mistake."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from linkblog.config import ConfigError, example_toml, load_config

SECRET = "s" * 40


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_database_beside_the_config(tmp_path):
    config = load_config(write(tmp_path, f'[site]\nbase_url = "https://Links.Example.org/"\n'
                                         f'[security]\nsecret_key = "{SECRET}"\n'), environ={})
    assert config.base_url == "https://links.example.org"
    assert config.get("server", "port") == 8000
    assert config.database_url == f"sqlite:///{(tmp_path / 'linkblog.db').resolve()}"
    assert config.https


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, f'[site]\nbase_url = "https://a.example"\n[security]\nsecret_key = "{SECRET}"\n')
    config = load_config(path, environ={"LINKBLOG_SITE_BASE_URL": "https://b.example",
                                        "LINKBLOG_SERVER_PORT": "9000",
                                        "LINKBLOG_TEST_DATABASE_URL": "ignored: belongs to the tests"})
    assert config.base_url == "https://b.example"
    assert config.get("server", "port") == 9000


@pytest.mark.parametrize("text, environ, message", [
    ("", {}, "[site] base_url is required"),
    ('[site]\nbase_url = "links.example.org"\n', {}, "[site] base_url must be an absolute http(s) URL"),
    ('[site]\nbase_url = "https://a.example/blog"\n', {}, "[site] base_url must be a URL without a path"),
    ('[site]\nbase_url = "https://a\u200db.example"\n', {}, "[site] base_url must be a URL with a valid host name"),
    ('[site]\nbase_url = "https://a.example"\n', {}, "[security] secret_key is required"),
    ('[site]\nbase_url = "https://a.example"\n[security]\nsecret_key = "short"\n', {},
     "[security] secret_key must be a random string of at least 32 characters"),
    ('[site]\nbase_url = "https://a.example"\ncolour = "red"\n', {}, "unknown setting [site] colour"),
    ('[site\nbase_url = 1', {}, "is not valid TOML"),
    ('[site]\nbase_url = "https://a.example"\n', {"LINKBLOG_SERVER_PORT": "eighty"},
     "[server] port must be a whole number from 1 to 65535 (got 'eighty')"),
    ('[site]\nbase_url = "https://a.example"\n', {"LINKBLOG_SITE_COLOUR": "x"}, "unknown setting [site] colour"),
    ('[site]\nbase_url = "https://a.example"\ntimezone = "Mars/Olympus"\n', {}, "[site] timezone must be an IANA"),
    ('[site]\nbase_url = "https://a.example"\ndefault_visibility = "secret"\n', {},
     "[site] default_visibility must be one of public, unlisted, followers, private"),
])
def test_each_mistake_names_the_key(tmp_path, text, environ, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ=environ)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="linkblog init"):
        load_config(tmp_path / "nope.toml", environ={})


def test_example_config_documents_every_option_and_is_current():
    shipped = (Path(__file__).parent.parent / "config.example.toml").read_text(encoding="utf-8")
    assert shipped == example_toml(), "regenerate with: linkblog example-config > config.example.toml"


def test_wsgi_with_a_broken_config_prints_one_line(tmp_path):
    path = write(tmp_path, '[site]\nbase_url = "nope"\n')
    result = subprocess.run([sys.executable, "-c", "import linkblog.wsgi"], capture_output=True, text=True,
                            env={"LINKBLOG_CONFIG": str(path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 2
    assert "configuration error: [site] base_url must be" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_international_base_url_is_kept_in_the_form_browsers_send(tmp_path):
    config = load_config(write(tmp_path, f'[site]\nbase_url = "https://Bücher.example:8443/"\n'
                                         f'[security]\nsecret_key = "{SECRET}"\n'), environ={})
    assert config.base_url == "https://xn--bcher-kva.example:8443"
