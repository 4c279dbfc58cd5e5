"""Running an instance: ``serve`` (gunicorn plus the federation worker) and ``worker`` on its own."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, NoReturn

import click

from ..config import Config
from ..db import make_engine
from .context import Context, config_option, pass_ctx

if TYPE_CHECKING:
    from flask import Flask


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
            # The app is built once in the master and the web workers are forked from it, so the pages of
            # Python, Flask, SQLAlchemy and our modules are shared between them instead of copied per worker.
            self.cfg.set("preload_app", True)
            self.cfg.set("pre_fork", _freeze_before_fork)
            self.cfg.set("post_fork", _fresh_connections_after_fork)
            self.cfg.set("post_request", _release_memory_after_request)

        def load(self):  # noqa: ANN202
            return built.pop() if built else _build_app(config)  # a reload (SIGHUP) builds it again

    built = [_build_app(config)]  # before the worker is forked from this process, so it shares these pages
    from ..compat.pinboard import install_log_redaction

    install_log_redaction()  # gunicorn's access and error logs never show a /v1/ query string (auth_token)
    click.echo(f"linkblog serving {config.base_url} on http://{host}:{port}/ (Ctrl+C stops)")
    background = None if no_worker else _start_worker(config)
    master = os.getpid()
    try:
        Server().run()
    finally:
        if background is not None and os.getpid() == master:  # gunicorn's forked web workers unwind here too
            background.stop()


class WorkerSupervisor:
    """Keeps one federation worker child running beside the web server (the first one forked from serve,
    see ``ForkedWorker``; every restart a `linkblog worker` process): when it dies (the OOM killer, a
    crash, a fatal database error: anything but a clean exit, status 0, after it was asked to stop) it is
    started again after a backoff that doubles from ``FIRST_DELAY`` up to ``MAX_DELAY`` (and starts over
    once a worker has run ``STEADY`` seconds), each death and restart logged. The rows it held are taken over
    when their lease ends (``[federation] delivery_lease``).

    It watches from a thread of gunicorn's master. The master reaps every child it did not start itself, so
    the exit status is read with ``waitid(WNOWAIT)`` when the thread sees it first, else reported unknown."""

    FIRST_DELAY = 1.0
    MAX_DELAY = 60.0
    STEADY = 60.0

    def __init__(self, command: list[str], log: logging.Logger, first: "ForkedWorker | None" = None) -> None:
        """``command`` starts a worker (every restart runs it); ``first``, when given, is the one already
        running."""
        self.command = command
        self.log = log
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.restarts = 0
        self.process: "subprocess.Popen | ForkedWorker" = first if first is not None else subprocess.Popen(command)
        self.thread = threading.Thread(target=self._watch, name="linkblog-worker-supervisor", daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        delay = self.FIRST_DELAY
        while True:
            process, started = self.process, time.monotonic()
            how, status = _wait_for_exit(process)
            if self.stopping.is_set():
                return
            if status == 0:  # it was asked to stop (SIGTERM, or Ctrl+C reaching the whole process group)
                self.log.warning("the federation worker (pid %s) stopped cleanly; not restarting it", process.pid)
                return
            ran = time.monotonic() - started
            if ran >= self.STEADY:
                delay = self.FIRST_DELAY
            self.log.error("the federation worker (pid %s) %s after %.0f s; restarting it in %.1f s",
                           process.pid, how, ran, delay)
            if self.stopping.wait(delay):
                return
            with self.lock:
                if self.stopping.is_set():
                    return
                self.process = subprocess.Popen(self.command)
                self.restarts += 1
            self.log.warning("federation worker restarted (pid %s, restart %d)", self.process.pid, self.restarts)
            delay = min(delay * 2, self.MAX_DELAY)

    def stop(self, timeout: float = 10) -> None:
        """Stop watching, then SIGTERM the worker (it finishes its batch), SIGKILL after ``timeout``."""
        with self.lock:
            self.stopping.set()
            process = self.process
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
        self.thread.join(timeout=5)


class ForkedWorker:
    """The first federation worker of `serve`, forked from its process once the app is built and before any
    thread exists: the worker and its delivery processes then share the pages of Python, SQLAlchemy, httpx,
    cryptography and our modules with gunicorn's master and web workers instead of loading copies of their
    own (about 20 MB of PSS less over all the processes after a fan-out and an inbox burst). It answers what
    WorkerSupervisor asks of a ``subprocess.Popen``; restarts are ``linkblog worker`` processes (a process
    with threads must not fork). Named ``NAME`` (``ps -o comm``, ``top``), as its command line is serve's."""

    NAME = "linkblog-worker"

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def start(cls, config: Config) -> "ForkedWorker":
        import gc

        gc.collect()
        gc.freeze()  # the collector in the child never touches (so never copies) what exists now
        sys.stdout.flush()
        sys.stderr.flush()  # or the child would write what is still buffered a second time
        pid = os.fork()
        if pid == 0:
            _run_forked_worker(config, cls.NAME)
        return cls(pid)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # gunicorn's master reaped it: it is gone, its status with it
                self.returncode = 0
                break
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
            elif deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.NAME, timeout or 0.0)
            else:
                time.sleep(0.05)
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass


def _run_forked_worker(config: Config, name: str) -> NoReturn:
    """The forked child: run the worker as `linkblog worker` would, then leave without running any of the
    parent's cleanup; exit status 0 after a requested stop, 1 after a failure (the supervisor restarts it)."""
    code = 1
    log = logging.getLogger("linkblog.worker")
    try:
        _name_process(name)
        from ..federation import health
        from ..federation import worker as federation_worker

        try:
            federation_worker.main(config)
            code = 0
        except health.WorkerFatal as exc:
            log.error("the worker stopped: %s", exc)
    except BaseException:  # noqa: BLE001  (report, then leave)
        log.exception("the federation worker failed")
    finally:
        logging.shutdown()
        os._exit(code)


def _name_process(name: str) -> None:
    """Linux: the process's name (``comm``, 15 bytes at most), as ps and top show it."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _wait_for_exit(process: "subprocess.Popen | ForkedWorker") -> tuple[str, int | None]:
    """Block until the child exits; how it ended, in words, and its exit status (None: killed, or unknown)."""
    how, status = "exited", None
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        if info is not None and info.si_code == os.CLD_EXITED:
            how, status = f"exited with status {info.si_status}", info.si_status
        elif info is not None:
            how = f"was killed by {signal.Signals(info.si_status).name}"
    except (ChildProcessError, ValueError):
        pass  # gunicorn's master reaped it first: the status is gone, the death is not
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    return how, status


def _build_app(config: Config) -> "Flask":
    """The app as gunicorn's master holds it: built, with what web workers load on first use imported and
    the public pages warmed up, so the forks share it all."""
    from .. import create_app

    app = create_app(config)
    _import_for_every_worker()
    warm_up(app)
    return app


def _import_for_every_worker() -> None:
    """What web workers load on first use (the inbox's HTTP client and cryptography, search's second tier),
    loaded once in gunicorn's master instead: the forked workers share those pages rather than each copying
    them in (about 15 MB a worker)."""
    from ..federation import receiving, signatures  # noqa: F401
    from ..queries import page_search  # noqa: F401


WARM_UP_PATHS = ("/", "/feeds/all.atom", "/feeds/all.rss", "/search?q=warm", "/tags/warm",
                 "/.well-known/nodeinfo", "/about")


def warm_up(app: "Flask") -> None:
    """Before the web workers are forked: compile every Jinja template and answer a few public pages in
    gunicorn's master, then close its database connections. What that builds (compiled templates, routing,
    SQL compiled once, Python's specialised bytecode of the code those pages run) then lives in pages the
    workers share instead of each building a copy of its own (measured: about 10 MB of PSS less over the
    master and two workers after the same requests). Only GETs that change nothing; a page that fails
    here is logged and left for the workers."""
    env = app.jinja_env
    for name in env.list_templates():
        env.get_template(name)
    site = app.extensions["linkblog"]
    client = app.test_client()
    try:
        for path in WARM_UP_PATHS:
            client.get(path, base_url=site.config.base_url)
    except Exception:  # noqa: BLE001  (a warm-up is an optimisation: never a reason not to serve)
        logging.getLogger("gunicorn.error").warning("warming up the web workers failed", exc_info=True)
    finally:
        site.engine.dispose()


def _release_memory_after_request(worker: object, req: object, environ: object, resp: object) -> None:
    """A web worker gives back what its requests freed (at most once a second; see ``memory``)."""
    from .. import memory

    memory.release()


def _freeze_before_fork(server: object, worker: object) -> None:
    """Move everything the master built into the GC's permanent generation: collections in the children
    then never touch (and so never copy) those shared pages."""
    import gc

    gc.freeze()


def _fresh_connections_after_fork(server: object, worker: object) -> None:
    """A forked web worker must never use a database connection its master opened: drop the pool's
    connections from this process's view (without closing them, which would end the master's)."""
    app = getattr(getattr(server, "app", None), "callable", None)
    site = getattr(app, "extensions", {}).get("linkblog") if app is not None else None
    if site is not None:
        site.engine.dispose(close=False)


def _start_worker(config: Config) -> WorkerSupervisor:
    """The federation worker as a supervised child process, so deliveries never wait on web requests (and a
    web worker that exits or is recycled cannot take it down: it is a plain process, not a multiprocessing
    child); forked from this process while it has no other thread (else started as `linkblog worker`), and
    restarted when it dies."""
    command = [sys.executable, "-m", "linkblog.cli"]
    if config.path is not None:
        command += ["--config", str(config.path)]
    first = ForkedWorker.start(config) if threading.active_count() == 1 else None
    return WorkerSupervisor(command + ["worker"], logging.getLogger("gunicorn.error"), first)


def _require_current_schema(config: Config, patience: float = 0.0) -> None:
    """Refuse to run on an old schema; a database that cannot be reached is retried for ``patience``
    seconds (a worker starting at boot may come up before its database), then named in the error."""
    from ..federation import health
    from ..migrate import current_revision, head_revision

    def read() -> str | None:
        engine = make_engine(config.database_url)
        try:
            return current_revision(engine)
        finally:
            engine.dispose()

    try:
        current = health.with_patience(read, health.DatabaseWatch(patience))
    except health.WorkerFatal as exc:
        raise click.ClickException(f"cannot reach the database ({str(exc.__cause__).splitlines()[0][:300]}): "
                                   "check that it is running and that [database] url is right") from None
    if current != head_revision():
        raise click.ClickException(f"the database schema is at {current or 'nothing'}, this version needs "
                                   f"{head_revision()}: run `linkblog db upgrade` first")


@click.command()
@config_option
@pass_ctx
def worker(ctx: Context) -> None:
    """Deliver queued activities and process received ones, until stopped (SIGTERM/Ctrl+C).

    Exits non-zero on a fatal error (bad config, old schema, a database unreachable for longer than the
    worker's patience), so a service manager (systemd's Restart=on-failure, or `linkblog serve`) restarts it."""
    config = ctx.config()
    from ..federation import health
    from ..federation import worker as federation_worker

    _require_current_schema(config, patience=health.DATABASE_PATIENCE)
    try:
        federation_worker.main(config)
    except health.WorkerFatal as exc:
        raise click.ClickException(f"the worker stopped: {exc}") from None


COMMANDS = (serve, worker)
