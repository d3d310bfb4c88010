"""The web chat in a real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import app_server as fixtures
from tests.fixtures.app_server import RunningServer

pytestmark = pytest.mark.ui

app_server = fixtures.app_server
keyed_server = fixtures.keyed_server

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed: apt-get install -y chromium (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    p = context.new_page()
    p.set_default_timeout(60_000)
    yield p
    context.close()


def pick_user(page: Any, user: str) -> None:
    page.locator("#nn-user input").click()
    page.get_by_role("option", name=user, exact=True).click()
    page.locator("#nn-chat").get_by_text(f"Hi {user}!").wait_for()


def ask(page: Any, text: str) -> None:
    box = page.locator("#nn-input textarea")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#nn-input textarea').value === ''")


def shown_items(page: Any) -> list[str]:
    page.wait_for_timeout(300)
    return list(
        page.eval_on_selector_all(
            ".nn-slot:not(.hidden) .nn-card",
            "els => els.filter(e => e.offsetParent !== null).map(e => e.dataset.item)",
        )
    )


def shown_ranks(page: Any) -> list[int]:
    return [
        int(x)
        for x in page.eval_on_selector_all(
            ".nn-card",
            "els => els.filter(e => e.offsetParent !== null).map(e => "
            "e.querySelector('.nn-rank').innerText)",
        )
    ]


def wait_for_cards(page: Any, previous: list[str] | None = None) -> list[str]:
    page.wait_for_function(
        """prev => {
            const ids = [...document.querySelectorAll('.nn-card')]
              .filter(e => e.offsetParent !== null).map(e => e.dataset.item);
            return ids.length > 0 && JSON.stringify(ids) !== JSON.stringify(prev);
        }""",
        arg=previous or [],
    )
    return shown_items(page)


def test_recommend_dismiss_and_ask_again(app_server: RunningServer, page: Any) -> None:
    page.goto(app_server.url)
    page.get_by_text("Your shop assistant").wait_for()
    pick_user(page, "carol")
    ask(page, "What should I get next?")
    first = wait_for_cards(page)
    assert first
    chat_text = page.locator("#nn-chat").inner_text()
    assert "Steel safety razor" in chat_text  # the answer cites carol's own purchase
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # written under tests/artifacts only: docs/screenshot.png is a tracked file
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    cards_text = page.locator("#nn-picks").inner_text() + " ".join(
        page.locator(".nn-card").all_inner_texts()
    )
    assert "match 0." not in cards_text and "entries in your history" not in cards_text

    dismissed = first[0]
    page.locator("#nn-nope-0").click()
    page.get_by_text("I won't suggest").first.wait_for()
    page.wait_for_function(
        "d => ![...document.querySelectorAll('.nn-card')].some(e => e.offsetParent !== null"
        " && e.dataset.item === d)",
        arg=dismissed,
    )
    rest = shown_items(page)
    assert dismissed not in rest and rest == first[1:]  # the others move up, in order
    assert shown_ranks(page) == list(range(1, len(rest) + 1))  # no gap where it was
    events = app_server.assistant.store.history("carol")
    assert any(e.item_id == dismissed and e.detail == "not_interested" for e in events)

    ask(page, "What else should I get? Show me more options")
    page.wait_for_function(
        "() => document.querySelectorAll('#nn-chat .message-row, #nn-chat [data-testid=bot]').length >= 3"
    )
    again = wait_for_cards(page, [i for i in first if i != dismissed])
    assert again and dismissed not in again
    page.screenshot(path=str(ARTIFACTS / "chat-after-dismiss.png"), full_page=True)


def test_tell_me_more_and_profile(app_server: RunningServer, page: Any) -> None:
    page.goto(app_server.url)
    pick_user(page, "bob")
    ask(page, "Recommend something")
    wait_for_cards(page)
    title = page.locator("#nn-card-0 .nn-title").inner_text()
    page.locator("#nn-more-0").click()
    page.locator("#nn-chat").get_by_text(f"Tell me more about {title}").wait_for()
    page.get_by_text("Your profile & data").click()
    page.locator("#nn-show-profile").click()
    page.wait_for_function(
        "() => document.querySelector('#nn-profile').innerText.toLowerCase().includes('guitar')"
    )


def test_escapes_untrusted_text(app_server: RunningServer, page: Any) -> None:
    page.goto(app_server.url)
    pick_user(page, "dave")
    ask(page, "<img src=x onerror=\"document.title='pwned'\"> recommend something")
    # the message is shown as typed (its markup is text) and the answer has come back
    page.wait_for_function(
        """() => {
            const chat = document.querySelector('#nn-chat');
            const bots = chat.querySelectorAll('[data-testid=bot]');
            return chat.innerText.includes("onerror=\\"document.title='pwned'\\"")
                && bots.length >= 2 && bots[bots.length - 1].innerText.trim().length > 0;
        }"""
    )
    assert page.title() != "pwned"
    assert page.locator("#nn-chat img").count() == 0


def test_shop_mode_needs_login(keyed_server: RunningServer, page: Any) -> None:
    page.goto(keyed_server.url)
    page.get_by_text("Sign in to see your recommendations.").wait_for()
    page.get_by_label("username").fill("alice")
    page.get_by_label("password").fill("alice-pass")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Signed in as").wait_for()
    assert page.locator("#nn-user").is_hidden()


def test_busy_message_when_every_slot_is_taken(app_server: RunningServer, page: Any) -> None:
    page.goto(app_server.url)
    pick_user(page, "erin")
    gate = app_server.app.state.gate
    for _ in range(gate.capacity):
        gate.acquire()
    try:
        page.locator("#nn-input textarea").fill("What should I get next?")
        page.locator("#nn-input textarea").press("Enter")
        page.get_by_text("busy; try again in a moment").first.wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "busy.png"))
    finally:
        for _ in range(gate.capacity):
            gate.release()


def test_cards_escape_untrusted_text() -> None:
    from bot.serve.ui import render_card

    card = render_card(
        {
            "item_id": 'x"><script>',
            "title": "<img src=x onerror=alert(1)>",
            "reason": "<b>bold</b> & more",
            "rank": 1,
            "score": 0.5,
            "price": 3.0,
            "evidence": ['"><svg onload=alert(2)>'],
        }
    )
    assert "<img" not in card and "<script>" not in card and "<svg" not in card
    assert "&lt;img src=x onerror=alert(1)&gt;" in card and "&amp; more" in card


def test_send_without_a_customer_is_a_friendly_message(
    app_server: RunningServer, page: Any
) -> None:
    page.goto(app_server.url)
    page.get_by_text("Your shop assistant").wait_for()
    box = page.locator("#nn-input textarea")
    box.fill("What should I get next?")
    page.locator("#nn-send").click()
    page.locator("#nn-chat").get_by_text("Pick a customer first").wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "no-customer.png"), full_page=True)
    assert page.locator(".toast-body.error, .error-pill").count() == 0  # no red error pills
    assert "Error" not in page.locator("body").inner_text().split("\n")
    # the box still holds the message and still works once a customer is picked
    assert box.input_value() == "What should I get next?"
    pick_user(page, "carol")
    ask(page, "What should I get next?")
    assert wait_for_cards(page)


def test_picker_searches_all_customers_and_new_customer_starts_clean(
    app_server: RunningServer, page: Any
) -> None:
    page.goto(app_server.url)
    page.locator("#nn-user input").click()
    page.locator("#nn-user input").press_sequentially("eri")
    page.get_by_role("option", name="erin", exact=True).wait_for()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('[role=option]')].some(o => o.innerText.trim()"
        " === 'carol' && o.offsetParent !== null)"
    )
    page.get_by_role("option", name="erin", exact=True).click()
    page.locator("#nn-chat").get_by_text("Hi erin!").wait_for()
    ask(page, "What should I get next?")
    wait_for_cards(page)
    page.get_by_text("Your profile & data").click()
    page.locator("#nn-show-profile").click()
    page.wait_for_function(
        "() => document.querySelector('#nn-profile-text').innerText.includes('From your')"
    )
    profile = page.locator("#nn-profile-text").inner_text()
    assert "thumbs" not in profile
    page.locator("#nn-user input").click()
    page.get_by_role("option", name="+ New customer", exact=True).click()
    page.locator("#nn-chat").get_by_text("You're a new customer").wait_for()
    page.wait_for_function(
        "() => !document.querySelector('#nn-profile-text').innerText.includes('From your')"
    )
    assert "Hi guest" not in page.locator("#nn-chat").inner_text()
    assert shown_items(page) == []
    page.screenshot(path=str(ARTIFACTS / "new-customer.png"), full_page=True)


def test_phone_layout_puts_cards_after_the_chat(app_server: RunningServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_server.url)
        pick_user(page, "carol")
        ask(page, "What should I get next?")
        wait_for_cards(page)
        y = {
            sel: page.locator(sel).bounding_box()["y"]
            for sel in ("#nn-chat", "#nn-input", "#nn-picks", "#nn-profile")
        }
        assert y["#nn-chat"] < y["#nn-input"] < y["#nn-picks"] < y["#nn-profile"], y
        assert not page.locator("#nn-examples").is_visible()
        page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    finally:
        context.close()
