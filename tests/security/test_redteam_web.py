"""Issue 21, findings 2-6, 9 and 10, against the real server on 127.0.0.1 (real Gradio, real
Chroma): cross-origin use of a logged-in session, auth flags without shop mode, the proxy
header, exports left on disk, body sizes, Markdown from catalog text, and the lower items
(picker ids in /config, Host, uploads, unknown routes, odd values, security headers).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.serve import ServerConfig
from knowledge.errors import ConfigError
from tests.fixtures.app_server import RunningServer
from tests.security.redteam import (
    ALICE,
    BEACON,
    LINK,
    login,
    shop_assistant,
    shop_mode,
    shop_server,
)

REPO = Path(__file__).resolve().parents[2]
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    built = shop_assistant(tmp_path_factory.mktemp("redteam-web"))
    yield built
    built.store.close()


@pytest.fixture(scope="module")
def shop(assistant: Any) -> Iterator[RunningServer]:
    with shop_server(assistant, **shop_mode()) as running:
        yield running


@pytest.fixture(scope="module")
def demo(assistant: Any) -> Iterator[RunningServer]:
    with shop_server(assistant, trust_user_header=True) as running:
        yield running


def _cookies(resp: httpx.Response) -> list[str]:
    return resp.headers.get_list("set-cookie")


# ---- 2. cross-origin ---------------------------------------------------------------------------


def test_no_cors_reflection_and_no_cross_origin_writes(shop: RunningServer) -> None:
    # Gradio reflected any Origin with credentials once the Host was not localhost
    remote = {"Host": "shop.example", "Origin": EVIL}
    got = httpx.get(f"{shop.url}/gradio_api/info", headers=remote, timeout=30)
    assert "access-control-allow-origin" not in got.headers
    assert "access-control-allow-credentials" not in got.headers
    pre = httpx.options(
        f"{shop.url}/gradio_api/queue/join",
        headers={**remote, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert "access-control-allow-origin" not in pre.headers
    cookie = login(shop).cookies
    join = {"data": [None], "fn_index": 0, "session_hash": "redteam1", "event_data": None}
    for path in ("/gradio_api/queue/join", "/api/forget", "/gradio_api/run/export"):
        resp = httpx.post(f"{shop.url}{path}", json=join, headers=remote, cookies=cookie)
        assert resp.status_code == 403, (path, resp.text)
        assert resp.json()["error"]["type"] == "forbidden"
    # the same request from the server's own origin goes through
    own = {"Origin": shop.url}
    assert httpx.post(f"{shop.url}/gradio_api/queue/join", json=join, headers=own,
                      cookies=cookie).status_code != 403  # fmt: skip


def test_login_cookie_is_samesite_lax(shop: RunningServer) -> None:
    resp = login(shop)
    assert resp.status_code == 200
    cookies = [c.lower() for c in _cookies(resp) if c.lower().startswith("access-token")]
    assert cookies and all("samesite=lax" in c and "samesite=none" not in c for c in cookies)


def test_configured_origin_may_call_the_api_without_credentials(assistant: Any) -> None:
    shop_site = "https://shop.example"
    with shop_server(assistant, **shop_mode(cors_origins=(shop_site,))) as running:
        resp = httpx.get(
            f"{running.url}/api/profile",
            headers={"Origin": shop_site, "Authorization": f"Bearer {ALICE}"},
        )
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == shop_site
        assert "access-control-allow-credentials" not in resp.headers
    with pytest.raises(ConfigError, match="cors_origins"):
        ServerConfig(cors_origins=("*",))


# ---- 3. auth flags need shop mode; the UI acts for the login only ------------------------------


def test_auth_or_keys_without_shop_mode_refuse_to_start(tmp_path: Path) -> None:
    for extra in ({"api_keys": {ALICE: "alice"}}, {"auth": (("alice", "pw"),)}):
        with pytest.raises(ConfigError, match="mode='shop'"):
            ServerConfig(mode="demo", **extra)  # type: ignore[arg-type]
    env = {**os.environ, "NEXTNEED_STORE": str(tmp_path / "store")}
    proc = subprocess.run(
        [sys.executable, "app.py", "--api-key", f"{ALICE}=u0001", "--model", "none"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0 and "mode='shop'" in proc.stderr, proc.stderr[-2000:]


def test_shop_ui_acts_only_for_the_logged_in_customer(shop: RunningServer) -> None:
    from gradio_client import Client

    with pytest.raises(Exception, match="credentials|log ?in"):  # no login, no UI at all
        Client(shop.url, verbose=False).predict(None, api_name="/export")
    client = Client(shop.url, auth=("alice", "alice-pass"), verbose=False, download_files=False)
    # naming another customer in the (hidden) picker is refused or ignored: the login decides
    for name in ("/export", "/profile"):
        try:
            out = client.predict("bob", api_name=name)
        except Exception as exc:  # noqa: BLE001 (gradio_client's AppError)
            assert "not in the list of choices" in str(exc)
        else:
            shown = Path(out["path"]).name if name == "/export" else out
            assert shown == "nextneed-alice.json" or "guitar" not in shown.lower()
    assert "guitar" not in client.predict(None, api_name="/profile").lower()  # bob's purchase
    exported = client.predict(None, api_name="/export")
    assert Path(exported["path"]).name == "nextneed-alice.json"
    # /config and the API description hold no customer ids from the (hidden) picker
    config = httpx.get(f"{shop.url}/config", cookies=login(shop).cookies).text
    for user in ("bob", "carol", "dave", "erin"):
        assert f'"{user}"' not in config


# ---- 4. the proxy header only from the proxy -----------------------------------------------------


def _proxy_login(server: RunningServer, headers: dict[str, str]) -> int:
    return httpx.get(f"{server.url}/config", headers=headers, timeout=30).status_code


def test_proxy_header_only_from_trusted_proxies_or_with_the_secret(assistant: Any) -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        ServerConfig(mode="shop", trust_proxy_header=True)
    as_alice = {"X-Forwarded-User": "alice"}
    spoofed = {**as_alice, "X-Forwarded-For": "10.9.9.9"}
    elsewhere = shop_mode(auth=(), trust_proxy_header=True, trusted_proxies=("10.9.9.9",))
    with shop_server(assistant, **elsewhere) as running:  # we are not the proxy
        assert _proxy_login(running, as_alice) == 401
        assert _proxy_login(running, spoofed) == 401
    here = shop_mode(auth=(), trust_proxy_header=True, trusted_proxies=("127.0.0.0/8",))
    with shop_server(assistant, **here) as running:
        assert _proxy_login(running, as_alice) == 200
        assert _proxy_login(running, {"X-Forwarded-User": "../etc"}) == 401
        # a proxy that rewrites Host names the public one; the UI's own origin is then allowed
        public = {**as_alice, "Origin": "https://shop.example"}
        join = f"{running.url}/gradio_api/queue/join"
        assert httpx.post(join, json={}, headers=public).status_code == 403
        forwarded = {**public, "X-Forwarded-Host": "shop.example"}
        assert httpx.post(join, json={}, headers=forwarded).status_code != 403
    secret = "proxy-secret-0123456789"
    shared = shop_mode(auth=(), trust_proxy_header=True, proxy_secret=secret)
    with shop_server(assistant, **shared) as running:
        assert _proxy_login(running, as_alice) == 401
        assert _proxy_login(running, {**as_alice, "X-Proxy-Secret": "wrong-secret-000000"}) == 401
        assert _proxy_login(running, {**as_alice, "X-Proxy-Secret": secret}) == 200


# ---- 5. exports ---------------------------------------------------------------------------------


def test_exports_are_private_deleted_after_download_on_forget_and_at_shutdown(
    tmp_path: Path,
) -> None:
    from gradio_client import Client

    assistant = shop_assistant(tmp_path)  # its own: alice is forgotten here
    with shop_server(assistant, **shop_mode()) as running:
        private = Path(running.app.state.exports.path)
        assert stat.S_IMODE(private.stat().st_mode) == 0o700
        client = Client(running.url, auth=("alice", "alice-pass"), verbose=False,
                        download_files=False)  # fmt: skip
        first = Path(client.predict(None, api_name="/export")["path"])
        assert private in first.parents and first.exists()
        assert stat.S_IMODE(first.stat().st_mode) == 0o600
        assert "/tmp/gradio" not in str(first)
        cookie = login(running).cookies
        url = f"{running.url}/gradio_api/file={first}"
        got = httpx.get(url, cookies=cookie, timeout=30)
        assert got.status_code == 200 and '"user_id": "alice"' in got.text
        assert _gone(first)  # deleted once downloaded
        assert httpx.get(url, cookies=cookie, timeout=30).status_code != 200
        second = Path(client.predict(None, api_name="/export")["path"])
        assert second.exists()
        resp = httpx.post(f"{running.url}/api/forget", json={"confirm": True},
                          headers={"Authorization": f"Bearer {ALICE}"})  # fmt: skip
        assert resp.status_code == 200
        assert _gone(second)  # purged on forget
        client.predict(None, api_name="/export")
        client.close()  # its heartbeat stream would hold the server's shutdown open
    assert _gone(private, 30)  # and the whole directory at shutdown (after open connections)
    assistant.store.close()


def _gone(path: Path, within_s: float = 5.0) -> bool:
    """The file is removed just after the response's last byte is sent: allow a moment."""
    deadline = time.monotonic() + within_s
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not path.exists()


# ---- 6. body size and history length --------------------------------------------------------------


def test_bodies_over_the_limit_are_refused_before_auth(shop: RunningServer) -> None:
    big = b'{"message": "' + b"x" * 2_000_000 + b'"}'
    resp = httpx.post(f"{shop.url}/api/recommend", content=big,
                      headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
    assert resp.status_code == 413  # not 401: no key was checked, nothing parsed

    def chunks() -> Iterator[bytes]:  # no Content-Length: a streamed body is counted
        yield b'{"message": "'
        for _ in range(40):
            yield b"y" * 65_536
        yield b'"}'

    resp = httpx.post(f"{shop.url}/api/recommend", content=chunks(),
                      headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
    assert resp.status_code == 413
    upload = httpx.post(f"{shop.url}/gradio_api/upload", files={"files": ("a.bin", b"0" * 2_000_000)},
                        cookies=login(shop).cookies, timeout=60)  # fmt: skip
    assert upload.status_code == 413
    assert httpx.get(f"{shop.url}/health").status_code == 200


def test_v1_history_is_capped_and_plain(demo: RunningServer) -> None:
    def ask(history_text: str) -> httpx.Response:
        messages = [{"role": "user", "content": history_text},
                    {"role": "assistant", "content": "ok"},
                    {"role": "user", "content": "What next?"}]  # fmt: skip
        return httpx.post(f"{demo.url}/v1/chat/completions", json={"messages": messages},
                          headers={"X-User-Id": "carol"}, timeout=60)  # fmt: skip

    assert ask("x" * 8_001).status_code == 400
    assert ask("hi\x07there").status_code == 400
    assert ask("hello there").status_code == 200


# ---- 9. catalog text as plain text in the web chat --------------------------------------------


def test_web_chat_shows_catalog_markdown_as_plain_text(demo: RunningServer) -> None:
    from gradio_client import Client

    from bot.serve.security import plain_text

    client = Client(demo.url, verbose=False)
    chat, *_ = client.predict("Tell me about the Travel mirror", "alice", api_name="/chat")
    text = "".join(block["text"] for block in chat[-1]["content"])
    assert "Travel mirror" in text
    assert "![" not in text and "](" not in text
    assert BEACON not in text and LINK not in text and "Claim your free gift" in text
    assert plain_text("see http://evil.example/x now") == "see `http://evil.example/x` now"
    assert plain_text("<img src=x>") == "&lt;img src=x>"


# ---- 10. lower items ------------------------------------------------------------------------------


def test_demo_serves_only_local_host_names(demo: RunningServer) -> None:
    rebinding = httpx.get(f"{demo.url}/health", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400
    assert rebinding.json()["error"]["type"] == "invalid_request"
    assert httpx.get(f"{demo.url}/health").status_code == 200


def test_security_headers_everywhere(demo: RunningServer) -> None:
    for path in ("/", "/health", "/api/nope"):
        resp = httpx.get(f"{demo.url}{path}", timeout=30)
        assert resp.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert resp.headers["x-content-type-options"] == "nosniff"


def test_unknown_api_routes_answer_the_documented_shape(demo: RunningServer) -> None:
    for path in ("/api/nope", "/v1/nope", "/api/"):
        resp = httpx.post(f"{demo.url}{path}", json={})
        assert resp.status_code == 404 and resp.json()["error"]["type"] == "not_found", path


def test_odd_values_are_refused(demo: RunningServer) -> None:
    resp = httpx.post(f"{demo.url}/api/review-reply", json={"review": "ok", "rating": True})
    assert resp.status_code == 422
    resp = httpx.post(f"{demo.url}/api/review-reply", json={"review": "ok", "rating": 4})
    assert resp.status_code == 200


def test_secrets_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.serve.config import parse_api_keys, read_secret_lines
    from bot.serve.launch import load_config

    keys = tmp_path / "keys"
    keys.write_text(f"# one per line\n{ALICE}=alice\n")
    assert parse_api_keys(read_secret_lines(keys, "--api-key-file")) == {ALICE: "alice"}
    monkeypatch.setenv("NEXTNEED_API_KEYS", f"{ALICE}=alice")
    monkeypatch.setenv("NEXTNEED_AUTH", "alice:alice-pass")
    cfg = load_config(None, {"store": {"path": str(tmp_path / "s")}, "model": {"model": "none"},
                             "server": {"mode": "shop"}})  # fmt: skip
    assert cfg.server.api_keys == {ALICE: "alice"}
    assert cfg.server.auth == (("alice", "alice-pass"),)
    with pytest.raises(ConfigError, match="at least 16"):
        ServerConfig(mode="shop", api_keys={"short-key": "alice"}, auth=(("a", "b"),))
