"""Signing in to the web app: the login page, session cookies, CSRF tokens, roles.

- The session cookie is HttpOnly, SameSite=Strict, Secure when the public URL is https;
  the store keeps only a hash of it.
- Every state-changing request made with the cookie carries the session's CSRF token: a
  form field ``csrf`` or an ``X-CSRF-Token`` header. The login form carries a token bound
  to a pre-session: a random id in a cookie of its own, the token being its HMAC under
  the server's secret, so a cookie and token made up elsewhere do not sign a victim in
  to an account of the attacker's. Behind https both cookies are ``__Host-`` cookies,
  which a sibling subdomain cannot set (cookie tossing), not even with a pair made here.
- Wrong passwords lock the account after a few tries, for the client address they came
  from only (``Accounts.login``; an IPv6 address counts as its /64), so a stranger's
  guesses never lock the owner out; each address also gets a limited number of login
  attempts a minute, whatever the names it tries.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from inbox.pages.ratelimit import RateLimiter
from inbox.pages.render import client_ip, render
from inbox.signing import Signer
from inbox.store.accounts import (
    LOCK_SECONDS,
    MAX_FAILED_LOGINS,
    SESSION_SECONDS,
    Accounts,
    LoginRefused,
    Session,
)

log = logging.getLogger(__name__)
SESSION_COOKIE = "inbox_session"
LOGIN_COOKIE = "inbox_login"
SESSION_KEY = web.RequestKey("session", object)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Page = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def safe_next(target: str) -> str:
    """A same-site path to go to after signing in; anything else goes to the desk."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/agent"
    return target if "\\" not in target else "/agent"


def login_source(request: web.Request) -> str:
    """The address the request's wrong passwords are counted for."""
    return source_of(client_ip(request))


def source_of(address: str) -> str:
    """The client's IP, or for IPv6 its /64 (one machine commonly holds a whole /64, so
    counting single addresses would not stop it)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is an IPv4 client
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


class WebAuth:
    """The login and logout routes, and the checks every staff page and call goes through."""

    def __init__(self, accounts: Accounts, *, secure_cookies: bool, secret: bytes) -> None:
        self.accounts = accounts
        self.secure = secure_cookies
        self.limiter = RateLimiter(per_minute=10, burst=10)
        self.login_forms = Signer(secret, "login-form")
        prefix = "__Host-" if secure_cookies else ""  # needs Secure, Path=/ and no Domain
        self.session_cookie = prefix + SESSION_COOKIE
        self.login_cookie = prefix + LOGIN_COOKIE

    def routes(self) -> list[web.AbstractRouteDef]:
        """``/login`` (GET, POST) and ``/logout`` (POST)."""
        return [
            web.get("/login", self.login_page),
            web.post("/login", self.login),
            web.post("/logout", self.logout),
        ]

    async def session(self, request: web.Request) -> Session | None:
        """The request's live session, looked up once per request."""
        if SESSION_KEY in request:
            found = request[SESSION_KEY]
            return found if isinstance(found, Session) else None
        value = request.cookies.get(self.session_cookie, "")
        found = await self.accounts.session(value) if value else None
        request[SESSION_KEY] = found
        return found

    @staticmethod
    def csrf_ok(request: web.Request, session: Session, form_value: str = "") -> bool:
        """True when the request carries the session's CSRF token (header or form field)."""
        given = request.headers.get("X-CSRF-Token", "") or form_value
        return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())

    def page(
        self, handler: Page, *, supervisors_only: bool = False, admins_only: bool = False
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wraps a staff page: signed out → the login page; an agent on a supervisor page,
        or anyone but an admin on an admin page → 403; a POST without the CSRF token → 403."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            session = await self.session(request)
            if session is None:
                if request.method in SAFE_METHODS:
                    raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe="/"))
                return _refused(401, "Please sign in again.")
            if supervisors_only and not session.agent.supervises:
                return _refused(403, "This page is for supervisors.")
            if admins_only and session.agent.role != "admin":
                return _refused(403, "This page is for admins.")
            if request.method not in SAFE_METHODS:
                form = await request.post()
                if not self.csrf_ok(request, session, str(form.get("csrf", ""))):
                    return _refused(403, "The form had expired. Reload the page and try again.")
            return await handler(request, session)

        return wrapped

    async def login_page(self, request: web.Request) -> web.Response:
        """The sign-in form, with a fresh pre-session and its token."""
        return self._form(request, "", status=200)

    def _form(self, request: web.Request, error: str, *, status: int) -> web.Response:
        pre_session = secrets.token_urlsafe(24)
        response = render(
            "login.html",
            {
                "csrf": self.login_forms.sign(pre_session),
                "next": safe_next(request.query.get("next", "/agent")),
                "error": error,
                "tries": MAX_FAILED_LOGINS,
            },
            status=status,
        )
        response.set_cookie(
            self.login_cookie,
            pre_session,
            httponly=True,
            samesite="Strict",
            secure=self.secure,
            path="/",
            max_age=3600,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Checks the form; on success a new session cookie and a redirect."""
        form = await request.post()
        pre_session = request.cookies.get(self.login_cookie, "")
        given = str(form.get("csrf", ""))
        expected = self.login_forms.sign(pre_session)
        if not pre_session or not hmac.compare_digest(expected.encode(), given.encode()):
            return self._form(request, "The form had expired. Please try again.", status=403)
        source = login_source(request)
        if self.limiter.check(source) > 0:
            return self._form(request, "Too many attempts. Wait a minute.", status=429)
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        try:
            agent = await self.accounts.login(name, password, source)
        except LoginRefused:
            log.warning("failed sign-in for %r from %s", name[:100], client_ip(request))
            return self._form(
                request,
                f"Wrong name or password. After {MAX_FAILED_LOGINS} wrong passwords in a row "
                f"an account is locked for {LOCK_SECONDS // 60} minutes from this address.",
                status=401,
            )
        value, _session = await self.accounts.open_session(agent)
        response = web.HTTPSeeOther(safe_next(str(form.get("next", "/agent"))))
        response.set_cookie(
            self.session_cookie,
            value,
            httponly=True,
            samesite="Strict",
            secure=self.secure,
            path="/",
            max_age=SESSION_SECONDS,
        )
        response.del_cookie(self.login_cookie, path="/", secure=self.secure)
        log.info("%s signed in", agent.name)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """Ends the session (with its CSRF token: nobody else can sign you out)."""
        session = await self.session(request)
        form = await request.post()
        if session is not None:
            if not self.csrf_ok(request, session, str(form.get("csrf", ""))):
                return _refused(403, "The form had expired. Reload the page and try again.")
            await self.accounts.close_session(request.cookies.get(self.session_cookie, ""))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(self.session_cookie, path="/", secure=self.secure)
        raise response


def _refused(status: int, message: str) -> web.Response:
    titles = {401: "Signed out", 403: "Not allowed"}
    return render(
        "error.html",
        {
            "title": titles.get(status, "Refused"),
            "message": message,
            "back": "/agent",
            "back_text": "Back to the desk",
        },
        status=status,
    )
