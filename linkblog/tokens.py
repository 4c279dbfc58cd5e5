"""API tokens: created once, stored hashed, revocable.

Every token works in an ``Authorization`` header. Only a token made for Pinboard apps (``pinboard=True``) is
also accepted in a query string (``?auth_token=user:TOKEN``, which is how those apps send it), and only on
/v1/: a query string ends up in proxy and server logs, so no other token is ever taken from one."""
from __future__ import annotations

import re

from sqlalchemy import Connection, insert, select, update

from .db import utcnow
from .models import API_TOKENS
from .passwords import generate_token, hash_token

NAME_RE = re.compile(r"^[\w.@-]{1,100}$")


class TokenError(ValueError):
    pass


def create_token(conn: Connection, name: str, *, pinboard: bool = False) -> str:
    """A new token called NAME; its secret is returned once and only its hash is stored."""
    if not NAME_RE.match(name or ""):
        raise TokenError("a token name is 1 to 100 letters, digits, '.', '-', '_' or '@' (no spaces)")
    if conn.execute(select(API_TOKENS.c.id).where(API_TOKENS.c.name == name)).first() is not None:
        raise TokenError(f"a token called {name!r} already exists; revoke it or choose another name")
    secret = generate_token()
    conn.execute(insert(API_TOKENS).values(name=name, token_hash=hash_token(secret), created_at=utcnow(),
                                            query_string_allowed=pinboard))
    return secret


def revoke_token(conn: Connection, name: str) -> None:
    result = conn.execute(update(API_TOKENS).where(API_TOKENS.c.name == name, API_TOKENS.c.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))
    if result.rowcount == 0:
        raise TokenError(f"no active token called {name!r} (see `linkblog token list`)")


def authenticate(conn: Connection, secret: str, *, from_query_string: bool = False) -> int | None:
    """The token's id if it is known and not revoked (and, when it came in a query string, made for that);
    marks it used."""
    row = conn.execute(select(API_TOKENS.c.id, API_TOKENS.c.revoked_at, API_TOKENS.c.query_string_allowed)
                       .where(API_TOKENS.c.token_hash == hash_token(secret))).first()
    if row is None or row.revoked_at is not None or (from_query_string and not row.query_string_allowed):
        return None
    conn.execute(update(API_TOKENS).where(API_TOKENS.c.id == row.id).values(last_used_at=utcnow()))
    return row.id


def list_tokens(conn: Connection) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        select(API_TOKENS.c.id, API_TOKENS.c.name, API_TOKENS.c.created_at, API_TOKENS.c.last_used_at,
               API_TOKENS.c.revoked_at, API_TOKENS.c.query_string_allowed).order_by(API_TOKENS.c.created_at))]
