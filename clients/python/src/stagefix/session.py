"""A logged-in session made by ``stagefix session create``, and its cookie in each browser's shape."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

__all__ = ["Session", "sessions_from_json"]


class Session:
    """One pre-authenticated Django session on the staging host.

    Attributes:
        email: the user the session logs in.
        key: the session key (the cookie's value).
        cookie: the cookie as Selenium's ``driver.add_cookie`` takes it: ``name``, ``value``,
            ``domain``, ``path``, ``expiry``, ``secure``, ``httpOnly``, ``sameSite``.
    """

    __slots__ = ("email", "key", "cookie")

    def __init__(self, email: str, key: str, cookie: Optional[Mapping[str, Any]] = None) -> None:
        self.email = email
        self.key = key
        self.cookie: Dict[str, Any] = dict(cookie) if cookie else {"name": "sessionid", "value": key, "path": "/"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Session":
        """From one item of the ``sessions`` list of ``session create --format json`` (or of a playbook's
        ``registered`` sessions)."""
        key = data["key"]
        cookie = dict(data.get("cookie") or {})
        cookie.setdefault("name", "sessionid")
        cookie.setdefault("value", key)
        cookie.setdefault("path", "/")
        return cls(email=data["email"], key=key, cookie=cookie)

    @property
    def cookie_name(self) -> str:
        return str(self.cookie.get("name", "sessionid"))

    def selenium_cookie(self, domain: Optional[str] = None, host_only: bool = False) -> Dict[str, Any]:
        """The dict for Selenium's ``driver.add_cookie(...)`` (a fresh copy).

        The browser must already be on a page of the cookie's domain (visit a 404 page first).
        ``domain`` replaces the cookie's domain (e.g. when the browser reaches the site by IP);
        ``host_only=True`` leaves the domain out, so the cookie belongs to the current page's host.
        """
        cookie = dict(self.cookie)
        if host_only:
            cookie.pop("domain", None)
        elif domain is not None:
            cookie["domain"] = domain
        return cookie

    def playwright_cookie(self, url: Optional[str] = None, domain: Optional[str] = None) -> Dict[str, Any]:
        """One item for Playwright's ``context.add_cookies([...])``.

        With ``url``, the cookie is given by URL (Playwright then derives domain and path), which also
        works for a site reached by IP and port; otherwise by ``domain`` (default: the cookie's) and path.
        """
        cookie: Dict[str, Any] = {"name": self.cookie_name, "value": self.cookie.get("value", self.key)}
        if url is not None:
            cookie["url"] = url
        else:
            cookie["domain"] = domain if domain is not None else self.cookie.get("domain", "")
            cookie["path"] = self.cookie.get("path", "/")
        expiry = self.cookie.get("expiry", self.cookie.get("expires"))
        cookie["expires"] = expiry if expiry is not None else -1
        cookie["httpOnly"] = bool(self.cookie.get("httpOnly", True))
        cookie["secure"] = bool(self.cookie.get("secure", False))
        if self.cookie.get("sameSite"):
            cookie["sameSite"] = self.cookie["sameSite"]
        return cookie

    def cookie_header(self) -> str:
        """The value of a ``Cookie:`` request header that logs an HTTP client (requests, urllib) in."""
        return "%s=%s" % (self.cookie_name, self.cookie.get("value", self.key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Session):
            return NotImplemented
        return (self.email, self.key, self.cookie) == (other.email, other.key, other.cookie)

    def __repr__(self) -> str:
        # The key is a credential for a test user on staging only; still, keep it out of logs.
        return "Session(email=%r, key=%r)" % (self.email, self.key[:4] + "...")


def sessions_from_json(document: Mapping[str, Any]) -> List[Session]:
    """The sessions of a ``{"sessions": [...]}`` document (``session create --format json``, or one
    ``registered`` entry of a playbook run)."""
    return [Session.from_json(item) for item in document.get("sessions", [])]
