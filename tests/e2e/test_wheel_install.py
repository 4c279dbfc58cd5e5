"""linkblog installed like a real application: the wheel is built from a clean copy of the repository,
installed into a new virtualenv and run from a folder outside the source tree, so every file it needs at run
time (templates, static files, migrations) must be inside the wheel.

The copy holds the files git tracks, with their current contents (untracked files are left out, as in a fresh
clone; without git it is the working tree minus .git, virtualenvs and build output). Building needs the build
backend (setuptools) and installing needs linkblog's dependencies: pip fetches them from its configured index
(PyPI, or a mirror or wheelhouse named by PIP_INDEX_URL / PIP_FIND_LINKS) and its own cache makes reruns fast.
That cache holds only third-party packages: the linkblog wheel and the virtualenv are made anew on every run.
Without any reachable index the test is skipped, not failed.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support.live import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
NETWORK_ERRORS = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
                            r"resolution|Network is unreachable|ConnectTimeoutError|ProxyError")
NETSCAPE = """<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
<DT><A HREF="https://example.org/wheel-check" ADD_DATE="1700000000" TAGS="python,packaging">Wheel check</A>
<DD>Installed from the wheel.
</DL><p>
"""


def test_pyproject_names_every_package_folder() -> None:
    """The wheel's packages are listed by hand (the templates mapping rules out discovery): a new folder under
    linkblog/ that is not listed would be missing from the wheel, so say so here, in the quick tests."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {"linkblog"} | {
        "linkblog." + ".".join(path.relative_to(ROOT / "linkblog").parts)
        for path in (ROOT / "linkblog").rglob("*")
        if path.is_dir() and not any(part == "__pycache__" or part.startswith(".")  # tool caches, not packages
                                     for part in path.relative_to(ROOT).parts)}
    assert set(setuptools["packages"]) == folders | {"linkblog.templates"}
    assert setuptools["package-dir"] == {"linkblog.templates": "templates"}


def _clean_copy(destination: Path) -> None:
    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(ROOT, destination, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "__pycache__", "*.egg-info", "build", "dist", "node_modules", "instance"))
        return
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and (source.is_file() or source.is_symlink()):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name, follow_symlinks=False)


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env=_run_env())
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if NETWORK_ERRORS.search(output):
            pytest.skip(f"no package index reachable for pip: {output.strip().splitlines()[-1]}")
        raise AssertionError(f"pip {' '.join(args)}:\n{output}")


def _run_env() -> dict[str, str]:
    """The environment of someone who installed linkblog: no source tree on the path, no test settings (but
    no link checks: the imported bookmark's made-up URL must not be fetched, no request may leave loopback)."""
    return {**{k: v for k, v in os.environ.items()
               if not k.startswith("LINKBLOG_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")},
            "LINKBLOG_LINKS_CHECK": "false"}


def _get(opener: urllib.request.OpenerDirector, url: str, data: bytes | None = None) -> tuple[int, str, str]:
    try:
        with opener.open(url, data=data, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


@pytest.mark.slow
def test_wheel_installs_and_serves_outside_the_source_tree(tmp_path: Path) -> None:
    source, dist, venv, site = (tmp_path / name for name in ("source", "dist", "venv", "site"))
    source.mkdir()
    site.mkdir()
    _clean_copy(source)
    _pip("wheel", str(source), "--no-deps", "--wheel-dir", str(dist), cwd=tmp_path)
    (wheel,) = dist.glob("linkblog-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("linkblog/", "linkblog-")) for n in names), "the wheel installs only linkblog"
    for needed in ("linkblog/templates/home.html", "linkblog/templates/error.html", "linkblog/static/style.css",
                   "linkblog/migrations/env.py", "linkblog/migrations/script.py.mako"):
        assert needed in names
    assert any(n.startswith("linkblog/migrations/versions/0001_") for n in names)

    # No pip of its own (ensurepip takes a while): this pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300,
                   env=_run_env())
    python = str(venv / "bin" / "python")
    _pip("--python", python, "install", str(wheel), cwd=site)
    env = {**_run_env(), "LINKBLOG_COPIES_MODE": "off"}  # the imported bookmark's page is outside loopback

    def cli(*args: str) -> str:
        result = subprocess.run([str(venv / "bin" / "linkblog"), *args], cwd=site, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"linkblog {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.stdout

    where = subprocess.run([python, "-c", "import linkblog, linkblog.app, sysconfig; print(linkblog.__file__); "
                            "print(linkblog.app.TEMPLATES_DIR); print(sysconfig.get_paths()['purelib'])"],
                           cwd=site, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    package, templates, purelib = (Path(line).resolve() for line in where[:3])
    assert purelib.is_relative_to(venv.resolve()) and package == purelib / "linkblog" / "__init__.py"
    assert templates == purelib / "linkblog" / "templates" and not package.is_relative_to(ROOT)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    password = re.search(r"^Password:\s*(\S+)", cli("init", "--base-url", base), re.M).group(1)
    (site / "marks.html").write_text(NETSCAPE, encoding="utf-8")
    assert "1 added" in cli("import", "marks.html")
    cli("export", "out.html")
    assert 'HREF="https://example.org/wheel-check"' in (site / "out.html").read_text(encoding="utf-8")

    log_path = site / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([str(venv / "bin" / "linkblog"), "serve", "--port", str(port), "--workers", "1"],
                                  cwd=site, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _check_site(base, password, server, log_path)
    finally:
        stop_process(server)


def _check_site(base: str, password: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, f"server exited:\n{log_path.read_text(errors='replace')}"
        try:
            urllib.request.urlopen(base + "/", timeout=2).close()
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            assert time.monotonic() < deadline, f"server did not start:\n{log_path.read_text(errors='replace')}"
            time.sleep(0.1)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            return None

    reader = urllib.request.build_opener(NoRedirect)
    status, kind, home = _get(reader, base + "/")
    assert (status, kind) == (200, "text/html; charset=utf-8"), home
    assert "Wheel check" in home and 'href="/static/style.css"' in home
    permalink = re.search(r'href="(/bookmarks/\d+)"', home).group(1)
    status, _, page = _get(reader, base + permalink)
    assert status == 200 and "Wheel check" in page and "Installed from the wheel." in page

    feeds = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
    for name, content_type in feeds.items():
        status, kind, feed = _get(reader, f"{base}/feeds/all.{name}")
        assert status == 200 and kind.split(";")[0] == content_type, (name, status, kind)
        assert "https://example.org/wheel-check" in feed and base + permalink in feed, name
    assert [item["url"] for item in json.loads(feed)["items"]] == [base + permalink]

    status, kind, css = _get(reader, base + "/static/style.css")
    assert status == 200 and kind.split(";")[0] == "text/css" and "{" in css
    status, kind, missing = _get(reader, base + "/no-such-page")
    assert status == 404 and kind.startswith("text/html")
    assert "<title>404 Not Found" in missing and 'href="/static/style.css"' in missing  # error.html, in base.html

    owner = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)
    status, _, login = _get(owner, base + "/login")
    assert status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"username": "owner", "password": password, "csrf_token": token}).encode()
    assert _get(owner, base + "/login", form)[0] == 302
    status, _, admin = _get(owner, base + "/admin/")
    assert status == 200 and "Log out" in admin

    deadline = time.monotonic() + 20
    while "linkblog worker started" not in log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"the federation worker did not start:\n{log_path.read_text()}"
        time.sleep(0.1)
