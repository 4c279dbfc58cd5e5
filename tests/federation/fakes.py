"""A fake remote fediverse server for inbox tests: real HTTP on 127.0.0.1, real RSA keys, real signatures.

``RemotePeer`` serves actor documents (and anything else a test puts on it) from a thread, records
every request it gets, and signs POSTs to our app the way Mastodon does (draft-cavage, or RFC 9421).
The app reaches it only through its guarded FetchClient, so the app's config needs
``[federation] allow_private_addresses = true``.

``Remote`` is a plainer server for following and moving: WebFinger and actor documents, no signatures.
The fixtures that start them (``peer``, ``remote``) and the app's fixed ``clock`` are in conftest.py.
"""
from __future__ import annotations

import base64
import functools
import json
import socketserver
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from linkblog import dates
from linkblog.federation import signatures as httpsig
from linkblog.federation.signatures.digest import content_digest_header
from linkblog.federation.keys import generate_key_pair

AP = "application/activity+json"
AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
NOW = datetime(2026, 3, 2, 12, 0, 0)   # the app's fixed clock (naive UTC, like every stored time)


@functools.lru_cache(maxsize=None)
def peer_key(index: int) -> tuple[str, str]:
    """(private PEM, public PEM) number ``index``, generated once per test session."""
    return generate_key_pair()


@dataclass
class PeerActor:
    name: str
    uri: str
    key_id: str
    key_index: int
    doc: dict[str, Any]

    @property
    def private_pem(self) -> str:
        return peer_key(self.key_index)[0]

    @property
    def public_pem(self) -> str:
        return peer_key(self.key_index)[1]

    @property
    def inbox(self) -> str:
        return self.uri + "/inbox"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _Page:
    status: int
    body: bytes
    content_type: str = AP


@dataclass
class RemotePeer:
    """Start with ``RemotePeer.start()``; ``close()`` when done (the ``peer`` fixture does both)."""

    server: ThreadingHTTPServer
    pages: dict[str, _Page] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    hooks: dict[str, Callable[[], None]] = field(default_factory=dict)
    actors: dict[str, PeerActor] = field(default_factory=dict)

    @classmethod
    def start(cls) -> RemotePeer:
        peer: RemotePeer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                peer.seen.append(Seen("GET", path, {k.lower(): v for k, v in self.headers.items()}))
                hook = peer.hooks.pop(path, None)
                if hook is not None:
                    hook()
                page = peer.pages.get(path, _Page(404, b'{"error":"not found"}', "application/json"))
                self._send(page)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                peer.seen.append(Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self._send(_Page(202, b""))

            def _send(self, page: _Page) -> None:
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        peer = cls(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="remote-peer").start()
        return peer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what it serves -----------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    def path_of(self, url: str) -> str:
        return url.removeprefix(self.base).split("#", 1)[0]

    def serve(self, url_or_path: str, doc: Any, status: int = 200) -> None:
        path = self.path_of(url_or_path) if url_or_path.startswith("http") else url_or_path
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.pages[path] = _Page(status, body)

    def gone(self, url: str) -> None:
        self.serve(url, {"id": url, "type": "Tombstone"}, status=410)

    def actor(self, name: str = "alice", *, key_index: int = 0, fragment_key: bool = True,
              **changes: Any) -> PeerActor:
        """An actor document served at /users/<name>, with a real key (Mastodon's ``#main-key`` id, or
        GoToSocial's ``/main-key`` path serving an actor stub when ``fragment_key`` is False)."""
        uri = f"{self.base}/users/{name}"
        key_id = f"{uri}#main-key" if fragment_key else f"{uri}/main-key"
        doc = {"@context": [AS, "https://w3id.org/security/v1"], "id": uri, "type": "Person",
               "preferredUsername": name, "name": name.title(), "inbox": f"{uri}/inbox",
               "outbox": f"{uri}/outbox", "followers": f"{uri}/followers",
               "endpoints": {"sharedInbox": f"{self.base}/inbox"}, "url": f"{self.base}/@{name}",
               "icon": {"type": "Image", "url": f"{self.base}/avatars/{name}.png"},
               "publicKey": {"id": key_id, "owner": uri, "publicKeyPem": peer_key(key_index)[1]}}
        doc.update(changes)
        actor = PeerActor(name, uri, key_id, key_index, doc)
        self.actors[name] = actor
        self.serve(uri, doc)
        if not fragment_key:
            stub = {"id": uri, "type": "Person", "preferredUsername": name, "publicKey": doc["publicKey"]}
            self.serve(key_id, stub)
        return actor

    def rotate(self, actor: PeerActor, key_index: int) -> None:
        """The actor now signs with (and publishes) another key under the same key id."""
        actor.key_index = key_index
        actor.doc["publicKey"] = {**actor.doc["publicKey"], "publicKeyPem": peer_key(key_index)[1]}
        self.serve(actor.uri, actor.doc)

    def gets(self, url: str) -> list[Seen]:
        path = self.path_of(url)
        return [s for s in self.seen if s.method == "GET" and s.path == path]

    def activity(self, actor: PeerActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        return {"@context": AS, "id": f"{self.base}/activities/{uuid.uuid4()}", "type": kind,
                "actor": actor.uri, "object": obj, **extra}

    def note(self, actor: PeerActor, **fields: Any) -> dict[str, Any]:
        note = {"id": f"{self.base}/notes/{uuid.uuid4()}", "type": "Note", "attributedTo": actor.uri,
                "content": "<p>Hello</p>", "to": [PUBLIC], "cc": [f"{actor.uri}/followers"],
                "published": "2026-03-02T10:00:00Z"}
        note.update(fields)
        return note

    # --- signing ------------------------------------------------------------------------------------------

    def post(self, client: Any, actor: PeerActor, activity: Any, *, now: datetime, path: str = "/actor/inbox",
             host: str = "links.test", scheme: str = "cavage", key_index: int | None = None,
             key_id: str | None = None, body: bytes | None = None, tamper: Callable[[dict], None] | None = None):
        """POST ``activity`` to our app's ``path`` through the Flask test ``client``, signed by ``actor``."""
        raw = body if body is not None else json.dumps(activity).encode()
        headers = signed(f"http://{host}{path}", raw, key_id or actor.key_id,
                         peer_key(actor.key_index if key_index is None else key_index)[0], now, scheme=scheme)
        headers["Content-Type"] = AP
        if tamper is not None:
            tamper(headers)
        return client.post(path, data=raw, headers=headers)


def signed(url: str, body: bytes, key_id: str, private_pem: str, now: datetime, *, scheme: str = "cavage",
           method: str = "POST") -> dict[str, str]:
    """Headers (Host included) that sign a request the way fediverse servers do."""
    if scheme == "cavage":
        return {"Host": httpx.URL(url).netloc.decode(),
                **httpsig.sign_headers(method, url, {}, body, key_id, private_pem, now)}
    return sign_rfc9421(method, url, body, key_id, private_pem, now)


def sign_rfc9421(method: str, url: str, body: bytes, key_id: str, private_pem: str, now: datetime) -> dict[str, str]:
    """RFC 9421 as recent Mastodon sends it: ``@method @target-uri content-digest``, rsa-v1_5-sha256."""
    target = httpx.URL(url)
    headers = {"Host": target.netloc.decode(), "Date": dates.format_http_date(now),
               "Content-Digest": content_digest_header(body)}
    created = int((now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp())
    params = f';created={created};keyid="{key_id}";alg="rsa-v1_5-sha256"'
    covered = '("@method" "@target-uri" "content-digest")'
    base = "\n".join([f'"@method": {method}', f'"@target-uri": {url}',
                      f'"content-digest": {headers["Content-Digest"]}',
                      f'"@signature-params": {covered}{params}'])
    signature = httpsig.load_private_key(private_pem).sign(base.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["Signature-Input"] = f"sig1={covered}{params}"
    headers["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
    return headers


class FakeFetch:
    """A ``client.Fetch`` over a dict of documents, for processing tests that need no server; anything
    else answers 404. Records every URL asked for."""

    def __init__(self, documents: dict[str, dict[str, Any]] | None = None) -> None:
        self.documents = dict(documents or {})
        self.asked: list[str] = []

    def __call__(self, url: str, *, check_id: bool = True) -> dict[str, Any]:
        from linkblog.federation.net import HTTPStatusError

        self.asked.append(url)
        if url not in self.documents:
            raise HTTPStatusError(404, url)
        return self.documents[url]


# --- the app's clock -------------------------------------------------------------------------------------


class Clock:
    """The app's clock: tests move ``now`` instead of waiting."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


# --- a plain fediverse server: WebFinger and actor documents, no signatures -------------------------------

PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n"


class Remote(ThreadingHTTPServer):
    """A tiny fediverse server: ``documents`` maps a path to (status, content type, JSON body)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RemoteHandler)
        self.port = self.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.documents: dict[str, tuple[int, str, Any]] = {}
        self.users: dict[str, str] = {}  # webfinger user -> actor path (or a whole URL, on another server)
        self.domains: set[str] = set()   # other domains whose handles its WebFinger answers (split domains)
        self.subjects: dict[str, str] = {}  # webfinger user -> the JRD subject (default: the resource asked)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would do a reverse DNS lookup
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The client's first WebFinger try is TLS (https first): garbage to us, and fine."""

    def actor(self, user: str, **extra: Any) -> dict[str, Any]:
        uri = f"{self.base}/users/{user}"
        doc = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
               "id": uri, "type": "Person", "preferredUsername": user, "name": user.title() + " Example",
               "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox", "endpoints": {"sharedInbox": f"{self.base}/inbox"},
               "url": f"{self.base}/@{user}", "icon": {"type": "Image", "url": f"{self.base}/{user}.png"},
               "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": PEM}}
        doc.update(extra)
        self.documents[f"/users/{user}"] = (200, AP, doc)
        self.documents[f"/@{user}"] = (200, AP, doc)  # the profile page answers with the canonical actor
        self.users[user] = f"/users/{user}"
        return doc


class RemoteHandler(BaseHTTPRequestHandler):
    server: Remote

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        if parts.path == "/.well-known/webfinger":
            resource = parse_qs(parts.query).get("resource", [""])[0]
            user, _, host = resource.removeprefix("acct:").partition("@")
            user = user.lower()  # as Mastodon, usernames match whatever their case
            if (host != self.server.host and host not in self.server.domains) or user not in self.server.users:
                return self._send(404, "application/jrd+json", {"error": "not found"})
            target = self.server.users[user]
            href = target if target.startswith("http") else self.server.base + target
            subject = self.server.subjects.get(user, resource)
            return self._send(200, "application/jrd+json", {"subject": subject, "links": [
                {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": href},
                {"rel": "self", "type": AP, "href": href}]})
        status, kind, body = self.server.documents.get(parts.path, (404, "application/json", {"error": "gone"}))
        self._send(status, kind, body)

    def _send(self, status: int, kind: str, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
