"""A small signed-cookie session: who is logged in, their CSRF token, when they logged in.

Signed with itsdangerous and a key from the hub's keys folder, so sessions survive a restart and
cannot be forged; the cookie is HttpOnly and SameSite=Lax, and Secure whenever the request came in
over HTTPS (directly, or through a proxy that says so in X-Forwarded-Proto).
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from hub.web.keyfile import load_or_create_key

COOKIE = "procmesh_session"
KEY_FILE = "web_sessions.key"
MAX_AGE_SECONDS = 12 * 3600


class Sessions:
    def __init__(self, key: bytes, max_age: int = MAX_AGE_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="procmesh-web-session")
        self._max_age = max_age

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> Sessions:
        return cls(load_or_create_key(keys_dir / KEY_FILE))

    def load(self, request: Request) -> dict[str, Any]:
        """The session's data; empty when there is none, or it is forged or expired."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return {}
        try:
            data = self._serializer.loads(cookie, max_age=self._max_age)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, request: Request, response: Response, data: dict[str, Any]) -> None:
        response.set_cookie(COOKIE, self._serializer.dumps(data), max_age=self._max_age, path="/",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(session: dict[str, Any], submitted: object) -> bool:
    expected = session.get("csrf")
    return (isinstance(expected, str) and isinstance(submitted, str)
            and hmac.compare_digest(expected.encode(), submitted.encode()))
