"""The web chat (Gradio Blocks): streaming chat, recommendation cards with feedback buttons, a
profile panel. Each callback is an adapter: resolve the user, call one Assistant method inside
the shared :class:`bot.serve.config.Gate`, render the result.

The user id comes from the session only: the picker in demo mode, the login (Gradio auth or a
trusted proxy header) in shop mode. Nothing a user types can change it.
"""

from __future__ import annotations

import html
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from bot.serve.config import Gate, ServerConfig  # noqa: E402
from bot.serve.exports import ExportFiles  # noqa: E402
from bot.serve.security import plain_text, proxy_user  # noqa: E402
from knowledge.errors import ConfigError, NextNeedError  # noqa: E402

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.chat.assistant import Assistant

__all__ = ["UIConfig", "build_ui", "mount_ui", "render_card", "render_cards_header"]

log = logging.getLogger(__name__)

NEW_USER = "+ New customer"
EXAMPLES = [
    "What should I get next?",
    "Something for dry hair under $20",
    "Tell me more about the first one",
    "What do you know about me?",
]


@dataclass(frozen=True)
class UIConfig:
    """Web chat settings; who may log in and how much runs at once come from ``server``."""

    server: ServerConfig = field(default_factory=ServerConfig)
    n_cards: int = 5
    # the demo picker lists this many customers (searchable by typing); any other id the store
    # knows is accepted too, typed in or sent by gradio_client
    users_in_picker: int = 100_000

    def __post_init__(self) -> None:
        s = self.server
        if s.mode == "shop" and not (s.auth or s.trust_proxy_header):
            raise ConfigError(
                "UIConfig: shop mode needs a login: give auth pairs or trust_proxy_header"
            )
        if not 1 <= self.n_cards <= 20:
            raise ConfigError(f"UIConfig.n_cards must be 1..20, got {self.n_cards}")


# ---- rendering (pure; every text from the store or the user is escaped) --------------------


def render_card(rec: dict[str, Any], status: str = "") -> str:
    """One recommendation as an HTML card."""
    e = html.escape
    price = f"${rec['price']:.2f}" if isinstance(rec.get("price"), int | float) else ""
    meta = " · ".join(e(str(x)) for x in (rec.get("brand"), rec.get("category")) if x)
    refill = '<span class="nn-badge">refill due</span>' if rec.get("replenishment") else ""
    # the reason names the purchase it rests on ("your X, 3 Jun"); internal scores and event
    # ids mean nothing to a customer
    done = f'<div class="nn-status">{e(status)}</div>' if status else ""
    return (
        f'<div class="nn-card" data-item="{e(str(rec.get("item_id", "")))}">'
        f'<div class="nn-card-top"><span class="nn-rank">{int(rec.get("rank", 0))}</span>'
        f'<span class="nn-title">{e(str(rec.get("title", "")))}</span>'
        f'<span class="nn-price">{e(price)}</span></div>'
        f'<div class="nn-meta">{meta} {refill}</div>'
        f'<div class="nn-reason">{e(str(rec.get("reason", "")))}</div>{done}</div>'
    )


def render_cards_header(user: str | None, n: int) -> str:
    if not user:
        return '<div class="nn-empty">Pick a customer to start.</div>'
    if n == 0:
        return '<div class="nn-empty">Ask for a recommendation and your picks appear here.</div>'
    return f'<div class="nn-picks">Picks for <b>{html.escape(user)}</b></div>'


def _welcome(user: str, is_new: bool) -> list[dict[str, str]]:
    if is_new:
        text = (
            "Welcome! You're a new customer, so I don't know your shopping history yet. "
            "Ask me what you need and I'll ask a couple of questions to get started."
        )
    else:
        text = (
            f"Hi {user}! I know your past orders and reviews. Ask me what to get next, "
            "or about any product."
        )
    return [{"role": "assistant", "content": text}]


CSS = """
.nn-header {display:flex; align-items:baseline; gap:14px; padding:6px 2px 2px}
.nn-header h1 {margin:0; font-size:1.7rem; letter-spacing:-0.02em}
.nn-header p {margin:0; color:var(--body-text-color-subdued)}
.nn-slot {border:1px solid var(--border-color-primary); border-radius:12px; padding:10px 12px;
  background:var(--background-fill-primary); gap:6px !important}
.nn-slot > div {padding:0 !important}
.nn-card-top {display:flex; gap:8px; align-items:baseline}
.nn-rank {background:var(--color-accent); color:white; border-radius:999px; min-width:22px;
  text-align:center; font-size:0.8rem; font-weight:600}
.nn-title {font-weight:600; flex:1}
.nn-price {font-weight:600; color:var(--color-accent)}
.nn-meta {font-size:0.8rem; color:var(--body-text-color-subdued); margin:2px 0 4px}
.nn-score {float:right}
.nn-badge {background:#fde68a; color:#78350f; border-radius:6px; padding:0 6px; margin-left:4px}
.nn-reason {font-size:0.9rem}
.nn-evidence {font-size:0.75rem; color:var(--body-text-color-subdued); margin-top:4px}
.nn-status {font-size:0.8rem; font-weight:600; color:#15803d; margin-top:4px}
.nn-empty, .nn-picks {color:var(--body-text-color-subdued); padding:4px 2px}
.nn-actions {gap:6px !important}
.nn-actions button {min-width:0 !important; font-size:0.8rem !important; padding:2px 6px !important}
footer {display:none !important}
/* a phone: the cards follow the chat they answer; examples and the data panel come after */
@media (max-width: 720px) {
  #nn-main {flex-direction:column !important}
  #nn-main > div {min-width:100% !important}
  #nn-examples {display:none !important}
  .nn-header {flex-direction:column; gap:2px}
  .nn-header h1 {font-size:1.3rem}
}
"""

NO_CUSTOMER = (
    "Pick a customer first: choose one in the Customer box above (type to search), or "
    "“+ New customer”. Then ask me again."
)


def _sentence(text: str) -> str:
    """An error message as a sentence: capitalised, ending in a full stop."""
    text = text.strip() or "Something went wrong"
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ---- callbacks ------------------------------------------------------------------------------


class _Handlers:
    """Thin adapters from UI events to Assistant calls."""

    def __init__(
        self, assistant: Assistant, gate: Gate, config: UIConfig, exports: ExportFiles | None = None
    ) -> None:
        self.assistant = assistant
        self.gate = gate
        self.config = config
        self.exports = exports or ExportFiles()  # private, per server (bot.serve.exports)

    def user(self, picked: str | None, request: gr.Request | None) -> str | None:
        """The session's customer, or None (no login, nobody picked yet)."""
        if self.config.server.mode == "shop":
            name = getattr(request, "username", None)
            return str(name) if name else None
        if not picked or picked == NEW_USER:
            return None
        return picked

    def need_user(self, picked: str | None, request: gr.Request | None) -> str | None:
        """The customer, or None after a friendly note (never a red error pill)."""
        user = self.user(picked, request)
        if user is None:
            gr.Warning(
                "Please sign in first."
                if self.config.server.mode == "shop"
                else "Pick a customer first (the Customer box at the top)."
            )
        return user

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` inside the gate; a NextNeedError becomes a note and None."""
        try:
            with self.gate.hold():
                return fn(*args)
        except NextNeedError as exc:
            gr.Warning(_sentence(str(exc)))
            return None

    def cards_out(self, user: str | None, recs: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = [render_cards_header(user, len(recs))]
        for i in range(self.config.n_cards):
            rec = recs[i] if i < len(recs) else None
            out.append(gr.Column(visible=rec is not None))
            out.append(render_card(rec) if rec else "")
        return out

    def respond(
        self, message: str, history: list[dict[str, str]], picked: str, request: gr.Request
    ) -> Any:
        user = self.user(picked, request)
        if not isinstance(message, str) or not message.strip():
            gr.Warning("Type a question or request first.")
            yield [gr.skip()] * (5 + 2 * self.config.n_cards)
            return
        past = list(history or [])
        if user is None:  # say it in the chat; the typed message stays in the box to resend
            note = [
                *past,
                {"role": "user", "content": plain_text(message)},
                {"role": "assistant", "content": NO_CUSTOMER},
            ]
            yield [
                note,
                gr.skip(),
                gr.skip(),
                message,
                *([gr.skip()] * (1 + 2 * self.config.n_cards)),
            ]
            return
        # the customer's own words shown as typed: Markdown/HTML in them is text, not markup
        shown = [
            *past,
            {"role": "user", "content": plain_text(message)},
            {"role": "assistant", "content": ""},
        ]
        skip_cards = [gr.skip()] * (1 + 2 * self.config.n_cards)
        raw = ""
        try:
            self.gate.acquire()
        except NextNeedError as exc:  # busy: keep the typed message so the user can resend
            gr.Warning(_sentence(str(exc)))
            yield [gr.skip()] * (5 + 2 * self.config.n_cards)
            return
        try:
            yield [shown, gr.skip(), gr.skip(), "", *skip_cards]
            for chunk in self.assistant.stream(user, message, past):
                if chunk.delta:
                    raw += chunk.delta  # catalog text: no Markdown images/links (issue 21)
                    shown[-1]["content"] = plain_text(raw)
                    yield [shown, gr.skip(), gr.skip(), "", *skip_cards]
                if chunk.reply is not None:
                    reply = chunk.reply.to_dict()
                    shown[-1]["content"] = plain_text(reply["text"])
                    recs = reply["recommendations"]
                    # a list answer replaces the cards, an empty one too (no stale picks under
                    # "nothing matched"); other answers (a description, an order) leave them
                    listed = bool(recs) or reply.get("intent") in ("recommend", "refine")
                    cards: Any = recs if listed else gr.skip()
                    out_cards = self.cards_out(user, recs) if listed else skip_cards
                    yield [shown, shown, cards, "", *out_cards]
        except NextNeedError as exc:  # bad input or store trouble: say so, keep the chat as it was
            gr.Warning(_sentence(str(exc)))
            yield [past, past, gr.skip(), message, *skip_cards]
        finally:
            self.gate.release()

    def feedback(
        self, slot: int, kind: str, cards: list[dict[str, Any]], picked: str, request: gr.Request
    ) -> Any:
        """Record the button; "not interested" takes the card out and moves the rest up."""
        nothing = [gr.skip()] * (2 + 2 * self.config.n_cards)
        user = self.need_user(picked, request)
        if user is None:
            return nothing
        if slot >= len(cards or []):
            gr.Warning("That suggestion is no longer shown.")
            return nothing
        rec = cards[slot]
        if self.call(self.assistant.feedback, user, rec["item_id"], kind) is None:
            return nothing
        if kind == "not_interested":
            gr.Info(f"Got it: I won't suggest {html.escape(rec['title'])} again.")
            rest = [{**r, "rank": n} for n, r in enumerate(cards[:slot] + cards[slot + 1 :], 1)]
            return [rest, *self.cards_out(user, rest)]
        gr.Info(f"Noted: you bought {html.escape(rec['title'])}.")  # toasts render HTML
        out: list[Any] = [gr.skip()] * (2 + 2 * self.config.n_cards)
        out[3 + 2 * slot] = render_card(rec, status="✓ Marked as bought")
        return out

    def tell_more(
        self,
        slot: int,
        cards: list[dict[str, Any]],
        history: list[dict[str, str]],
        picked: str,
        request: gr.Request,
    ) -> Any:
        user = self.need_user(picked, request)
        if user is None:
            return gr.skip(), gr.skip()
        if slot >= len(cards or []):
            gr.Warning("That suggestion is no longer shown.")
            return gr.skip(), gr.skip()
        rec = cards[slot]
        reply = self.call(self.assistant.describe, rec["item_id"], user)
        if reply is None:
            return gr.skip(), gr.skip()
        turns = [
            *(history or []),
            {"role": "user", "content": f"Tell me more about {rec['title']}"},
            {"role": "assistant", "content": plain_text(reply.text)},
        ]
        return turns, turns

    def pick(self, picked: str) -> Any:
        """A new session for the picked customer: the previous one's chat, cards, profile and
        export are cleared. "+ New customer" makes a guest id."""
        cleared = ["", None]  # profile text, export file
        if not picked:
            return [[], [], [], gr.Dropdown(), *cleared, *self.cards_out(None, [])]
        user = f"guest-{uuid.uuid4().hex[:8]}" if picked == NEW_USER else picked
        try:  # a typed id the shop cannot hold (bad characters): say so, keep the picker
            is_new = not self.assistant.store.history(user)
        except NextNeedError as exc:
            gr.Warning(_sentence(str(exc)))
            return [[], [], [], gr.Dropdown(value=None), *cleared, *self.cards_out(None, [])]
        choices = self.choices()
        if user not in choices:
            choices.insert(1, user)
        welcome = _welcome(user, is_new)
        dropdown = gr.Dropdown(choices=choices, value=user)
        return [welcome, welcome, [], dropdown, *cleared, *self.cards_out(user, [])]

    def load(self, request: gr.Request) -> Any:
        if self.config.server.mode == "shop":
            user = self.user(None, request)
            if user is None:  # Gradio's login normally stands before this page
                return [gr.skip(), gr.skip(), gr.Dropdown(visible=False), gr.skip()]
            welcome = _welcome(user, False)
            signed = f'<div class="nn-picks">Signed in as <b>{html.escape(user)}</b></div>'
            return [welcome, welcome, gr.Dropdown(visible=False), signed]
        return [gr.skip(), gr.skip(), gr.Dropdown(choices=self.choices()), gr.skip()]

    def choices(self) -> list[str]:
        return [NEW_USER, *self.assistant.users(self.config.users_in_picker)]

    def profile(self, picked: str, request: gr.Request) -> Any:
        user = self.need_user(picked, request)
        reply = self.call(self.assistant.profile, user) if user else None
        return plain_text(str(reply.text)) if reply is not None else gr.skip()

    def export(self, picked: str, request: gr.Request) -> Any:
        user = self.need_user(picked, request)
        data = self.call(self.assistant.export, user) if user else None
        if user is None or data is None:
            return gr.skip()
        return self.exports.write(user, data)  # deleted after download, on forget, at exit

    def forget(self, picked: str, request: gr.Request) -> Any:
        user = self.need_user(picked, request)
        deleted = self.call(self.assistant.forget, user) if user else None
        if deleted is None:
            return [gr.Row(visible=False), *([gr.skip()] * (5 + 2 * self.config.n_cards))]
        self.exports.purge(user)
        gr.Info(f"Deleted {deleted} stored entries for {user}.")
        note = f"Done: I deleted {deleted} stored entries. I no longer know your history."
        return [gr.Row(visible=False), note, [], [], [], *self.cards_out(user, [])]


def build_ui(
    assistant: Assistant,
    gate: Gate,
    config: UIConfig | None = None,
    exports: ExportFiles | None = None,
) -> gr.Blocks:
    """The chat Blocks. Every event has a pinned ``api_name``; card events are private."""
    config = config or UIConfig()
    h = _Handlers(assistant, gate, config, exports)
    limit: dict[str, Any] = {
        "concurrency_limit": config.server.max_concurrency,
        "concurrency_id": "assistant",
    }
    with gr.Blocks(title=f"{config.server.title}: your next need", analytics_enabled=False) as demo:
        history = gr.State([])
        cards = gr.State([])
        gr.HTML(
            f'<div class="nn-header"><h1>{html.escape(config.server.title)}</h1>'
            "<p>Your shop assistant: what you'll need next, from what you already have.</p></div>"
        )
        with gr.Row(equal_height=False, elem_id="nn-main"):
            with gr.Column(scale=3):
                with gr.Row():
                    picker = gr.Dropdown(
                        h.choices() if config.server.mode == "demo" else [], value=None,
                        label="Customer (type to search)", scale=3, elem_id="nn-user",
                        visible=config.server.mode == "demo", interactive=True,
                        # demo: any customer id; shop: the login decides, nothing else passes
                        filterable=True, allow_custom_value=config.server.mode == "demo",
                    )  # fmt: skip
                    signed = gr.HTML("", visible=config.server.mode == "shop")
                chat = gr.Chatbot(
                    height=540, show_label=False, elem_id="nn-chat", buttons=["copy"],
                    feedback_options=None, placeholder="Pick a customer, then ask away.",
                )  # fmt: skip
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask: what should I get next?", show_label=False, scale=5,
                        elem_id="nn-input", max_length=2000, submit_btn=False,
                    )  # fmt: skip
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="nn-send")
                gr.Examples(EXAMPLES, inputs=box, label="Try", elem_id="nn-examples")
            with gr.Column(scale=2):
                header = gr.HTML(render_cards_header(None, 0), elem_id="nn-picks")
                slots, htmls, buttons = [], [], []
                for i in range(config.n_cards):
                    with gr.Column(visible=False, elem_classes="nn-slot") as slot:
                        card = gr.HTML(elem_id=f"nn-card-{i}")
                        with gr.Row(elem_classes="nn-actions"):
                            bought = gr.Button("Bought", size="sm", elem_id=f"nn-bought-{i}")
                            nope = gr.Button("Not interested", size="sm", elem_id=f"nn-nope-{i}")
                            more = gr.Button("Tell me more", size="sm", elem_id=f"nn-more-{i}")
                    slots.append(slot)
                    htmls.append(card)
                    buttons.append((bought, nope, more))
        # below both columns: on a phone the cards come right after the chat, this after them
        with gr.Accordion("Your profile & data", open=False, elem_id="nn-profile"):
            profile_md = gr.Markdown("", elem_id="nn-profile-text")  # plain_text'd in h.profile
            with gr.Row():
                show = gr.Button("What do you know about me?", size="sm", elem_id="nn-show-profile")
                export = gr.Button("Export my data", size="sm", elem_id="nn-export")
                forget = gr.Button("Forget me", size="sm", variant="stop")
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("Delete everything stored about you? This cannot be undone.")
                yes = gr.Button("Yes, delete", size="sm", variant="stop")
                no = gr.Button("Cancel", size="sm")
            download = gr.File(
                label="Your data", visible=True, interactive=False, elem_id="nn-download"
            )
            download.GRADIO_CACHE = str(h.exports.path)  # never Gradio's shared cache
        card_outs: list[Any] = [header]
        for slot, card in zip(slots, htmls, strict=True):
            card_outs += [slot, card]
        for i, (bought, nope, more) in enumerate(buttons):
            _wire_card(h, i, bought, nope, more, [cards, *card_outs], cards, history, chat, picker)
        chat_outs = [chat, history, cards, box, *card_outs]
        for trigger, name in ((box.submit, "chat"), (send.click, "send")):
            trigger(
                h.respond, [box, history, picker], chat_outs, api_name=name,
                api_visibility="public" if name == "chat" else "private", **limit,
            )  # fmt: skip
        picker.change(
            h.pick, [picker], [chat, history, cards, picker, profile_md, download, *card_outs],
            api_name="pick_user",
            api_visibility="private",
        )  # fmt: skip
        demo.load(h.load, None, [chat, history, picker, signed], api_name="load",
                  api_visibility="private")  # fmt: skip
        show.click(h.profile, [picker], profile_md, api_name="profile", **limit)
        export.click(h.export, [picker], download, api_name="export", **limit)
        forget.click(lambda: gr.Row(visible=True), None, confirm_row, api_name="forget_ask",
                     api_visibility="private")  # fmt: skip
        no.click(lambda: gr.Row(visible=False), None, confirm_row, api_name="forget_cancel",
                 api_visibility="private")  # fmt: skip
        yes.click(
            h.forget, [picker], [confirm_row, profile_md, chat, history, cards, *card_outs],
            api_name="forget", api_visibility="private", **limit,
        )  # fmt: skip
    demo.queue(
        max_size=config.server.queue_size, default_concurrency_limit=config.server.max_concurrency
    )
    return demo


def _wire_card(h: _Handlers, i: int, bought: Any, nope: Any, more: Any, outs: list[Any],
               cards: Any, history: Any, chat: Any, picker: Any) -> None:  # fmt: skip
    def fb(kind: str) -> Any:
        def on(c: list[dict[str, Any]], p: str, request: gr.Request) -> Any:
            return h.feedback(i, kind, c, p, request)

        return on

    def tell(
        c: list[dict[str, Any]], hist: list[dict[str, str]], p: str, request: gr.Request
    ) -> Any:
        return h.tell_more(i, c, hist, p, request)

    opts: dict[str, Any] = {"api_visibility": "private", "concurrency_id": "assistant"}
    bought.click(fb("bought"), [cards, picker], outs, api_name=f"card_{i}_bought", **opts)
    nope.click(fb("not_interested"), [cards, picker], outs, api_name=f"card_{i}_nope", **opts)
    more.click(tell, [cards, history, picker], [chat, history], api_name=f"card_{i}_more", **opts)


def mount_ui(app: FastAPI, assistant: Assistant, gate: Gate, config: UIConfig) -> None:
    """Mount the chat at ``/`` of ``app`` with the configured login."""
    exports = getattr(app.state, "exports", None) or ExportFiles()
    blocks = build_ui(assistant, gate, config, exports)

    def from_proxy(request: Any) -> str | None:  # only from trusted proxies (bot.serve.security)
        return proxy_user(config.server, request)

    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=list(config.server.auth) or None,
        auth_dependency=from_proxy if config.server.trust_proxy_header else None,
        auth_message="Sign in to see your recommendations." if config.server.auth else None,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        theme=gr.themes.Soft(primary_hue="teal"),
        css=CSS,
        show_error=True,
        allowed_paths=[str(exports.path)],
        max_file_size=config.server.max_body_bytes,
    )
