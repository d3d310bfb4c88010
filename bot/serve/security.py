"""The server's outer guard: checks that run on every request before any route, login or body
parsing, plus the small helpers the web UI needs to stay safe.

:class:`Guard` is a plain ASGI middleware, outermost, so what it refuses costs no body read and
no auth work:

- **Host** must be one of ``ServerConfig.allowed_hosts`` (in demo mode by default the
  localhost names): a DNS-rebinding page cannot drive a local demo.
- **Body size**: a ``Content-Length`` over ``max_body_bytes`` is refused (413) before anything
  is read, and a streamed body is counted and cut off at the same limit. This is also the
  upload limit of ``/gradio_api/upload``.
- **Cross-origin writes**: a request whose ``Origin`` is neither this server's own nor in
  ``cors_origins`` may not use an unsafe method (403), so another site cannot join the Gradio
  queue (export, forget, card events) or call the API with the customer's cookie. Reading is
  blocked by the browser: CORS headers are only ever sent for ``cors_origins``, without
  credentials (Starlette's CORSMiddleware, which also switches off Gradio's own reflection).
- **Rate limits**: a token bucket per caller (API key, else client address) on the routes
  that do work, and a login throttle on ``/login`` (429 with ``Retry-After``).
- **Cookies**: Gradio's login cookie is sent ``SameSite=Lax`` instead of ``None``.
- **Headers**: ``X-Frame-Options: DENY``, ``Content-Security-Policy: frame-ancestors 'none'``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` on every response.
- **Exports**: a web-UI export file is deleted once it has been downloaded.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bot.serve.config import ServerConfig
from bot.serve.limits import FailureThrottle, RateLimiter
from knowledge.schema import USER_ID_RULE

if TYPE_CHECKING:
    from bot.serve.exports import ExportFiles

__all__ = ["Guard", "proxy_user", "client_key", "plain_text", "LOCAL_HOSTS"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Routes that make the assistant work or check a secret; page assets are not limited.
_LIMITED = ("/api/", "/v1/", "/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/",
            "/gradio_api/upload", "/login")  # fmt: skip
_SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_SAMESITE = re.compile(rb";\s*samesite=[a-z]+", re.IGNORECASE)


def _host_name(host: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:80`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def client_key(scope: dict[str, Any], config: ServerConfig | None = None) -> str:
    """Who is asking, for rate limits: the API key, else the web session's login cookie, else
    the user a trusted proxy (or, where it is trusted, ``X-User-Id``) names, else the client
    address (behind a proxy every web user shares the proxy's address, so it comes last)."""
    headers = dict(scope.get("headers", []))
    auth = headers.get(b"authorization", b"")
    if auth[:7].lower() == b"bearer ":
        return "key:" + hashlib.sha256(auth[7:].strip()).hexdigest()[:16]
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name.startswith(b"access-token") and value:
            return "session:" + hashlib.sha256(value).hexdigest()[:16]
    if config is not None and config.trust_proxy_header:
        user = proxy_user(config, _HeaderView(scope))
        if user:
            return "proxy-user:" + user
    if config is not None and config.trust_user_header:  # the header is the identity here
        named = headers.get(config.user_header.lower().encode(), b"").decode("latin-1")
        if USER_ID_RULE.fullmatch(named):
            return "user:" + named
    return "ip:" + client_address(scope)


class _HeaderView:
    """Just enough of a Request for :func:`proxy_user` from an ASGI scope."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        client = scope.get("client")
        self.client = type("Client", (), {"host": client[0] if client else ""})()


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def _in_networks(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def proxy_user(config: ServerConfig, request: Any) -> str | None:
    """The web user named by the reverse proxy's header, only when the request comes from a
    configured proxy address (``trusted_proxies``) or carries the shared ``proxy_secret``."""
    client = getattr(request, "client", None)
    address = getattr(client, "host", "") or ""
    trusted = bool(config.trusted_proxies) and _in_networks(address, config.trusted_proxies)
    if not trusted and config.proxy_secret:
        given = request.headers.get(config.proxy_secret_header.lower(), "")
        trusted = hmac.compare_digest(given.encode(), config.proxy_secret.encode())
    if not trusted:
        return None
    user = request.headers.get(config.proxy_header.lower()) or ""
    return user if USER_ID_RULE.fullmatch(user) else None


# Markdown that makes the browser fetch or link somewhere: images, links, autolinks, raw HTML.
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_MD_REF = re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE)
_URL = re.compile(r"<?\b((?:[a-z][a-z0-9+.-]*:/{1,2}|www\.)[^\s<>`]+)>?", re.IGNORECASE)


def plain_text(text: str) -> str:
    """Reply text for the web chat, which renders Markdown: catalog text in it can no longer
    make images, links or HTML (the assistant's own templates use bold and lists only).
    URLs stay readable as code, so they are shown but neither fetched nor clickable."""
    text = _MD_IMAGE.sub(lambda m: m.group(1), text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _MD_REF.sub("", text)
    text = _URL.sub(lambda m: "`" + m.group(1).replace("`", "") + "`", text)
    return text.replace("<", "&lt;")


class Guard:
    """The outer ASGI middleware (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        config: ServerConfig,
        exports: ExportFiles | None = None,
        failures: FailureThrottle | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.exports = exports
        hosts = config.allowed_hosts or (LOCAL_HOSTS if config.mode == "demo" else ("*",))
        self.any_host = "*" in hosts
        self.hosts = {_host_name(h) for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in config.cors_origins}
        self.rate = RateLimiter(config.rate_per_s, config.rate_burst)
        # shared with the API's key check: wrong passwords and wrong keys count together
        self.logins = failures or FailureThrottle(config.login_max_failures, config.login_window_s)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        method = scope.get("method", "GET")
        host = headers.get("host", "")
        if not self.any_host and _host_name(host) not in self.hosts:
            await _refuse(send, 400, "invalid_request", f"Host {host[:80]!r} is not served here")
            return
        origin = headers.get("origin")
        own = [host]
        if self.config.trusted_proxies and _in_networks(
            client_address(scope), self.config.trusted_proxies
        ):  # a proxy that rewrites Host says the public one in X-Forwarded-Host
            own.append(headers.get("x-forwarded-host", ""))
        if method not in _SAFE_METHODS and origin and not self._origin_ok(origin, own):
            why = f"cross-origin requests from {origin[:80]!r} are not allowed"
            await _refuse(send, 403, "forbidden", why)
            return
        length = headers.get("content-length")
        limit = self.config.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            why = f"request body is over the limit of {limit} bytes"
            await _refuse(send, 413, "invalid_request", why)
            return
        is_login = method == "POST" and path.rstrip("/").endswith("/login")
        if is_login:
            wait = self.logins.blocked(client_address(scope))
            if wait > 0:
                why = "too many failed sign-ins from your address; try again later"
                await _refuse(send, 429, "rate_limited", why, retry_after=wait)
                return
        if method != "OPTIONS" and path.startswith(_LIMITED):
            wait = self.rate.take(client_key(scope, self.config))
            if wait > 0:
                why = "too many requests; slow down"
                await _refuse(send, 429, "rate_limited", why, retry_after=wait)
                return
        export = self._export_path(path) if method == "GET" else None
        state: dict[str, Any] = {"status": 0, "refused": False}
        seen = 0

        async def receive_counted() -> Any:
            # a streamed (chunked) body is counted as it arrives: past the limit the client
            # gets 413 and the app sees a disconnect, so it stops reading
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request" and not state["refused"]:
                seen += len(message.get("body", b""))
                if seen > limit:
                    scope["nextneed.refused"] = True
                    if not state["status"]:
                        why = f"request body is over the limit of {limit} bytes"
                        await _refuse(send, 413, "invalid_request", why)
                    state["refused"] = True
                    return {"type": "http.disconnect"}
            return message

        async def send_wrapped(message: dict[str, Any]) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                out = [
                    (
                        k,
                        _SAMESITE.sub(b"", v) + b"; SameSite=Lax"
                        if k.lower() == b"set-cookie"
                        else v,
                    )
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in _SECURITY_HEADERS}
                ]
                message = {**message, "headers": out + _SECURITY_HEADERS}
                if is_login and state["status"] >= 400:
                    self.logins.fail(client_address(scope))
            await send(message)
            done = message["type"] == "http.response.body" and not message.get("more_body")
            if done and export is not None and state["status"] == 200 and self.exports:
                self.exports.remove(export)

        try:
            await self.app(scope, receive_counted, send_wrapped)
        except Exception:
            if not state["refused"]:
                raise

    def _origin_ok(self, origin: str, hosts: list[str]) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        netloc = urlsplit(origin).netloc
        return bool(netloc) and netloc in {h.strip().lower() for h in hosts if h}

    def _export_path(self, path: str) -> str | None:
        if self.exports is None or "/file=" not in path:
            return None
        candidate = unquote(path.split("/file=", 1)[1])
        return candidate if self.exports.holds(candidate) else None


async def _refuse(
    send: Any, status: int, kind: str, message: str, retry_after: float | None = None
) -> None:
    body = json.dumps({"error": {"type": kind, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, int(retry_after + 0.999))).encode()))
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + _SECURITY_HEADERS}
    )
    await send({"type": "http.response.body", "body": body})
