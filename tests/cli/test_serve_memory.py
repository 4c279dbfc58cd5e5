"""What `linkblog serve` does so its processes share memory: the master warms the app up before forking
its web workers, and processes give freed memory back after bursts."""
from __future__ import annotations

import platform

import pytest

from linkblog import memory
from linkblog.cli.server import warm_up


def test_warm_up_compiles_every_template_and_keeps_no_database_connection(app, make_bookmark):
    make_bookmark(title="Warm", tags=["warm"])
    env = app.jinja_env
    warm_up(app)
    compiled = {name for _loader, name in env.cache.keys()}
    assert compiled >= set(env.list_templates())
    pool = app.extensions["linkblog"].engine.pool
    assert pool.checkedin() == 0 and pool.checkedout() == 0   # nothing a forked worker could inherit
    answer = app.test_client().get("/")
    assert answer.status_code == 200 and "Warm" in answer.get_data(as_text=True)


def test_warm_up_survives_a_failing_page(app, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(type(app.test_client()), "get", broken)
    warm_up(app)   # logged, not raised: the server still starts
    assert app.extensions["linkblog"].engine.pool.checkedin() == 0


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_trims_at_most_once_an_interval():
    assert memory.release(interval=0.0)
    assert not memory.release(interval=3600.0)
    assert memory.release(interval=0.0)
