"""Drive the Fedify test peer (tests/peers/fedify/peer.mjs) from Python.

    with FedifyPeer("alice") as alice, FedifyPeer("bob") as bob:
        alice.follow(bob.actor_url)
        bob.wait_for("Follow")              # a delivery Fedify verified
        alice.wait_following(bob.actor_url)  # bob's Accept arrived

The peer is a real ActivityPub server built on Fedify (npm @fedify/fedify), listening on
127.0.0.1 with Fedify's HTTP-signature verification on.  This module installs its npm
packages when they are missing (`npm ci`, from the lock file), starts it as a subprocess
(`node peer.mjs --port 0 --name NAME`, which prints ``READY <port>``), talks to its JSON
control API under ``/control/`` and stops it with SIGTERM.  See tests/peers/fedify/README.md.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterable

PEER_DIR = Path(__file__).resolve().parent / "fedify"
PEER_SCRIPT = PEER_DIR / "peer.mjs"
FEDIFY_PACKAGE = PEER_DIR / "node_modules" / "@fedify" / "fedify" / "package.json"
MIN_NODE_MAJOR = 20

# No proxies for loopback control calls, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PeerUnavailable(RuntimeError):
    """Node.js is not there (or too old) to run the peer."""


class PeerError(RuntimeError):
    """The peer answered a control call with an error, or could not be started."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def node_binary() -> str:
    """The Node.js to run the peer with: $LINKBLOG_NODE, else `node` on PATH (>= 20)."""
    node = os.environ.get("LINKBLOG_NODE") or shutil.which("node")
    if not node:
        raise PeerUnavailable("Node.js is not installed (no `node` on PATH and LINKBLOG_NODE unset)")
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise PeerUnavailable(f"cannot run {node}: {exc}") from exc
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < MIN_NODE_MAJOR:
        raise PeerUnavailable(f"{node} is {version or 'of unknown version'}; the Fedify peer needs Node.js >= {MIN_NODE_MAJOR}")
    return node


def ensure_installed(timeout: float = 600) -> None:
    """Run `npm ci` in tests/peers/fedify unless Fedify is already installed there.

    A lock file keeps parallel test workers from installing at the same time."""
    if FEDIFY_PACKAGE.exists():
        return
    npm = shutil.which("npm")
    if not npm:
        raise PeerError("tests/peers/fedify/node_modules is missing and there is no `npm` to install it")
    lock_path = Path(tempfile.gettempdir()) / f"linkblog-fedify-peer-npm-{os.getuid()}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if FEDIFY_PACKAGE.exists():
            return
        result = subprocess.run(
            [npm, "ci", "--prefix", str(PEER_DIR), "--no-audit", "--no-fund"],
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0 or not FEDIFY_PACKAGE.exists():
            raise PeerError(f"npm ci in {PEER_DIR} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


class FedifyPeer:
    """One peer process: ``FedifyPeer("bob").start()`` ... ``.stop()``, or use ``with``."""

    def __init__(
        self,
        name: str = "alice",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        first_knock: str | None = None,
        auto_accept: bool = True,
        require_http_signature: bool = True,
        signature_time_window: int | None = None,
        ed25519: bool = False,
        verbose: bool = False,
        extra_args: Iterable[str] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.args = ["--port", str(port), "--name", name, "--host", host, "--exit-on-stdin-eof"]
        if first_knock:
            self.args += ["--first-knock", first_knock]
        if not auto_accept:
            self.args.append("--no-auto-accept")
        if not require_http_signature:
            self.args.append("--no-require-http-signature")
        if signature_time_window is not None:
            self.args += ["--signature-time-window", str(signature_time_window)]
        if ed25519:
            self.args.append("--ed25519")
        if verbose:
            self.args.append("--verbose")
        self.args += list(extra_args)
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr_file: Any = None

    # -- process ---------------------------------------------------------------------------

    def start(self) -> "FedifyPeer":
        if self.process is not None:
            raise PeerError("peer already started")
        node = node_binary()
        ensure_installed()
        self._stderr_file = tempfile.NamedTemporaryFile(prefix=f"fedify-peer-{self.name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [node, str(PEER_SCRIPT), *self.args],
            cwd=PEER_DIR,
            stdin=subprocess.PIPE,  # closed when this process dies: the peer then exits
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
        )
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        while b"\n" not in buffer:
            if self.process.poll() is not None:
                rest = self.process.stdout.read() or b""
                buffer += rest
                if b"\n" in buffer:
                    break
                raise PeerError(f"the Fedify peer {self.name} exited ({self.process.returncode}) before READY:\n{self.stderr_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise PeerError(f"the Fedify peer {self.name} printed no READY in {self.startup_timeout} s:\n{self.stderr_text()}")
            chunk = self.process.stdout.read()
            if chunk:
                buffer += chunk
            else:
                time.sleep(0.02)
        line = buffer.split(b"\n", 1)[0].decode()
        match = re.fullmatch(r"READY (\d+)", line.strip())
        if not match:
            self.stop()
            raise PeerError(f"unexpected first line from the Fedify peer: {line!r}")
        self.port = int(match.group(1))
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        return process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stderr_text(self) -> str:
        """Everything the peer logged (stderr), for diagnosing a failing test."""
        if self._stderr_file is None:
            return ""
        try:
            return Path(self._stderr_file.name).read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "FedifyPeer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the stderr log file (after stop())."""
        if self._stderr_file is not None:
            self._stderr_file.close()
            try:
                os.unlink(self._stderr_file.name)
            except OSError:
                pass
            self._stderr_file = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def actor_url(self) -> str:
        return f"{self.base_url}/users/{self.name}"

    @property
    def key_id(self) -> str:
        return f"{self.actor_url}#main-key"

    @property
    def inbox_url(self) -> str:
        return f"{self.actor_url}/inbox"

    @property
    def shared_inbox_url(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def followers_url(self) -> str:
        return f"{self.actor_url}/followers"

    @property
    def note_url(self) -> str:
        """The static Note every peer serves (`/notes/1`)."""
        return f"{self.base_url}/notes/1"

    @property
    def handle(self) -> str:
        return f"{self.name}@{self.host}:{self.port}"

    # -- control API -----------------------------------------------------------------------

    def call(self, method: str, path: str, body: dict | None = None, *, params: dict | None = None,
             check: bool = True, timeout: float = 30.0) -> dict:
        """One control call; raises PeerError on an error answer when `check`."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {"ok": False, "error": raw.decode(errors="replace")}
        if check and (status >= 400 or not answer.get("ok", False)):
            error = answer.get("error") or (answer.get("sent") or {}).get("error") or answer
            raise PeerError(f"{self.name}: {method} {path} -> {status}: {error}", status, answer)
        return answer

    def health(self) -> dict:
        return self.call("GET", "/control/health")

    def inbox(self, type: str | None = None, *, verified: bool | None = None, since: int | None = None) -> list[dict]:
        """Every delivery to this peer's inboxes (verified or not), oldest first."""
        params: dict[str, str] = {}
        if type is not None:
            params["type"] = type
        if verified is not None:
            params["verified"] = "1" if verified else "0"
        if since is not None:
            params["since"] = str(since)
        return self.call("GET", "/control/inbox", params=params)["deliveries"]

    def rejected(self) -> list[dict]:
        """Deliveries that were refused (bad or missing signature, unparsable, ...)."""
        return self.call("GET", "/control/rejected")["deliveries"]

    def sent(self) -> list[dict]:
        return self.call("GET", "/control/sent")["sent"]

    def followers(self) -> list[dict]:
        return self.call("GET", "/control/followers")["followers"]

    def following(self) -> list[dict]:
        return self.call("GET", "/control/following")["following"]

    def logs(self, since: int = 0) -> list[dict]:
        return self.call("GET", "/control/logs", params={"since": since})["logs"]

    def reset(self) -> None:
        """Forget recorded deliveries, sent activities and logs (not followers/following)."""
        self.call("POST", "/control/reset", {})

    def follow(self, actor: str, *, check: bool = True, shared_inbox: bool = False) -> dict:
        return self.call("POST", "/control/follow", {"actor": actor, "sharedInbox": shared_inbox}, check=check)

    def unfollow(self, actor: str, *, check: bool = True) -> dict:
        return self.call("POST", "/control/unfollow", {"actor": actor}, check=check)

    def like(self, object: str, actor: str | None = None, *, check: bool = True) -> dict:
        return self.call("POST", "/control/like", _without_none(object=object, actor=actor), check=check)

    def announce(self, object: str, actor: str | None = None, *, check: bool = True) -> dict:
        return self.call("POST", "/control/announce", _without_none(object=object, actor=actor), check=check)

    def reply(self, in_reply_to: str, content: str, actor: str | None = None, *, check: bool = True) -> dict:
        return self.call("POST", "/control/reply",
                         _without_none(inReplyTo=in_reply_to, content=content, actor=actor), check=check)

    def post(self, content: str, actor: str | None = None, *, check: bool = True) -> dict:
        """A public Note, to all followers, or only to `actor`."""
        return self.call("POST", "/control/post", _without_none(content=content, actor=actor), check=check)

    def send(self, actor: str, activity: dict, *, check: bool = True) -> dict:
        """Any activity (JSON-LD; id and actor default to the peer's) to `actor`'s inbox."""
        return self.call("POST", "/control/send", {"actor": actor, "activity": activity}, check=check)

    def lookup(self, url: str, *, signed: bool = True) -> dict:
        """Fetch a remote object through Fedify's lookupObject (a signed GET by default)."""
        return self.call("GET", "/control/lookup", params={"url": url, "signed": "1" if signed else "0"})["object"]

    # -- waiting ---------------------------------------------------------------------------

    def wait_for(self, type: str | None = None, *, verified: bool | None = True,
                 predicate: Callable[[dict], bool] | None = None, timeout: float = 10.0) -> dict:
        """The first delivery of `type` (and `verified`, and matching `predicate`); polls."""
        deadline = time.monotonic() + timeout
        while True:
            for delivery in self.inbox(type, verified=verified):
                if predicate is None or predicate(delivery):
                    return delivery
            if time.monotonic() > deadline:
                seen = [(d["type"], d["status"], d["verified"]) for d in self.inbox()]
                raise AssertionError(f"{self.name} received no {type or 'activity'} (verified={verified}) "
                                     f"in {timeout} s; deliveries: {seen}")
            time.sleep(0.05)

    def wait_following(self, actor: str, state: str = "accepted", timeout: float = 10.0) -> dict:
        """Wait until this peer's Follow of `actor` is in `state` (accepted, rejected, ...)."""
        deadline = time.monotonic() + timeout
        while True:
            entry = next((f for f in self.following() if f["actor"] == actor), None)
            if entry is not None and entry["state"] == state:
                return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}'s Follow of {actor} is {entry and entry['state']}, not {state}")
            time.sleep(0.05)


def _without_none(**values: Any) -> dict:
    return {key: value for key, value in values.items() if value is not None}
