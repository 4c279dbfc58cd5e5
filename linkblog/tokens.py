"""API bearer tokens: created once, stored hashed, revocable."""
from __future__ import annotations

import re

from sqlalchemy import Connection, insert, select, update

from .db import utcnow
from .models import API_TOKENS
from .passwords import generate_token, hash_token

NAME_RE = re.compile(r"^[\w.@-]{1,100}$")


class TokenError(ValueError):
    pass


def create_token(conn: Connection, name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise TokenError("a token name is 1 to 100 letters, digits, '.', '-', '_' or '@' (no spaces)")
    if conn.execute(select(API_TOKENS.c.id).where(API_TOKENS.c.name == name)).first() is not None:
        raise TokenError(f"a token called {name!r} already exists; revoke it or choose another name")
    secret = generate_token()
    conn.execute(insert(API_TOKENS).values(name=name, token_hash=hash_token(secret), created_at=utcnow()))
    return secret


def revoke_token(conn: Connection, name: str) -> None:
    result = conn.execute(update(API_TOKENS).where(API_TOKENS.c.name == name, API_TOKENS.c.revoked_at.is_(None))
                          .values(revoked_at=utcnow()))
    if result.rowcount == 0:
        raise TokenError(f"no active token called {name!r} (see `linkblog token list`)")


def authenticate(conn: Connection, secret: str) -> int | None:
    """The token's id if it is known and not revoked; marks it used."""
    row = conn.execute(select(API_TOKENS.c.id, API_TOKENS.c.revoked_at)
                       .where(API_TOKENS.c.token_hash == hash_token(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    conn.execute(update(API_TOKENS).where(API_TOKENS.c.id == row.id).values(last_used_at=utcnow()))
    return row.id


def list_tokens(conn: Connection) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(
        select(API_TOKENS.c.id, API_TOKENS.c.name, API_TOKENS.c.created_at, API_TOKENS.c.last_used_at,
               API_TOKENS.c.revoked_at).order_by(API_TOKENS.c.created_at))]
