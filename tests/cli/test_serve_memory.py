"""What `linkblog serve` does so its processes share memory: the master warms the app up before forking
its web workers."""
from __future__ import annotations

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
