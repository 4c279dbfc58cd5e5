"""Flask's signed session cookie, without the work it did on every request for nothing.

Flask builds a new signing serializer (itsdangerous, which encodes a test value to learn its output type)
to open every request's session, cookie or not, and reads seven cookie settings to save a session that is
empty and untouched. Readers, feed readers and peers posting to the inbox never carry our cookie: for them
that was a few per cent of a request's CPU. The cookie, its signature and its settings are unchanged.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class CookieSessions(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` that keeps its serializer per secret key and skips the cookie work
    of requests that have no session to read or write."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._serializer = (keys, serializer)   # the keys only change in tests; one entry is enough
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()   # what Flask answers without a cookie, before building anything
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified and not session.accessed:
            return   # Flask would neither set, delete nor vary on the cookie
        super().save_session(app, session, response)


__all__ = ["CookieSessions"]
