"""Running an instance: ``serve`` (gunicorn plus the federation worker) and ``worker`` on its own."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from ..config import Config
from ..db import make_engine
from .context import Context, config_option, pass_ctx


@click.command()
@config_option
@click.option("--host", default=None, help="Listen address (default from [server] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default from [server] port, 8000).")
@click.option("--workers", type=int, default=2, show_default=True, help="Web worker processes.")
@click.option("--no-worker", is_flag=True, help="Do not start the federation worker beside the web server "
                                                 "(run `linkblog worker` separately).")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int, no_worker: bool) -> None:
    """Run the web server (gunicorn) and the federation worker on the configured address."""
    config = ctx.config()
    _require_current_schema(config)
    host = host or config.get("server", "host")
    port = port or config.get("server", "port")
    from gunicorn.app.base import BaseApplication

    from .. import create_app

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", workers)
            # Threads, so an inbox POST that is fetching a peer's key never blocks that peer fetching ours.
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "linkblog")
            self.cfg.set("control_socket_disable", True)  # several instances on one machine must not share it

        def load(self):  # noqa: ANN202
            return create_app(config)

    click.echo(f"linkblog serving {config.base_url} on http://{host}:{port}/ (Ctrl+C stops)")
    background = None if no_worker else _start_worker(config)
    master = os.getpid()
    try:
        Server().run()
    finally:
        if background is not None and os.getpid() == master:  # gunicorn's forked web workers unwind here too
            background.terminate()
            try:
                background.wait(timeout=10)
            except subprocess.TimeoutExpired:
                background.kill()


def _start_worker(config: Config) -> "subprocess.Popen":
    """`linkblog worker` as a child process, so deliveries never wait on web requests (and a web worker that
    exits or is recycled cannot take it down: it is a plain process, not a multiprocessing child)."""
    command = [sys.executable, "-m", "linkblog.cli"]
    if config.path is not None:
        command += ["--config", str(config.path)]
    return subprocess.Popen(command + ["worker"])


def _require_current_schema(config: Config) -> None:
    from ..migrate import current_revision, head_revision

    current = current_revision(make_engine(config.database_url))
    if current != head_revision():
        raise click.ClickException(f"the database schema is at {current or 'nothing'}, this version needs "
                                   f"{head_revision()}: run `linkblog db upgrade` first")


@click.command()
@config_option
@pass_ctx
def worker(ctx: Context) -> None:
    """Deliver queued activities and process received ones, until stopped (SIGTERM/Ctrl+C)."""
    config = ctx.config()
    _require_current_schema(config)
    from ..federation import worker as federation_worker

    federation_worker.main(config)


COMMANDS = (serve, worker)
