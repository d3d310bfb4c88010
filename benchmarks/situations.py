"""Can the language model read a situation? The kind of item a described problem or plan needs.

"the counter is getting scratched when I chop veg" names no product; a cutting board helps. The
issue asks whether the small language model can do such reading where the rules cannot. This
benchmark asks each reader to pick the kind of item, among every kind the conversation shop
sells, for the development set's situations (``benchmarks/conversation/15_situations.yaml``):

- **LM, likelihood**: the default model (SmolLM2-135M-Instruct, fp32, transformers; no adapter:
  the shipped adapter was trained on other tasks) scores each kind's name as the assistant's
  answer to the message; the kind with the highest length-normalised log-likelihood wins;
- **LM, calibrated**: the same, minus each name's log-likelihood after a content-free message
  (contextual calibration, Zhao et al., ICML 2021), which removes the model's prior for a name;
- **MiniLM**: the nearest kind by cosine between the message and a card per kind (its name, its
  departments and its first item's description), in the store's embedder;
- **product**: the first recommended item's kind in the assistant's reply, with no model and with
  the default model (the conversation benchmark's configurations).

    python -m benchmarks.situations            # writes benchmarks/results/situations.{md,json}
    python -m benchmarks.situations --set languages   # results/situations-languages.{md,json}

``--set languages`` asks the same of shop requests in German, Spanish, French, Italian and Dutch
(``benchmarks/parser/languages.yaml``: each names the kind it wants in its own language), with one
more reader, **LM translation, then the product**: the default model (no adapter) translates the
message into English and the assistant without a model reads the translation.

Top-1 and top-3 (a kind the situation names as acceptable among the first three) per reader.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.common import environment, environment_markdown, table, write_results

__all__ = ["load_situations", "run", "main"]

log = logging.getLogger("benchmarks.situations")
SET = Path(__file__).parent / "conversation" / "15_situations.yaml"
LANGUAGES = Path(__file__).parent / "parser" / "languages.yaml"
TRANSLATE = "Translate the customer's message into English. Reply with the translation only."
SYSTEM = "You are a shop assistant. Name the one product that helps the customer."
NEUTRAL = "N/A"


def load_situations(path: Path = SET) -> list[tuple[str, set[str]]]:
    """``(message, acceptable kinds)`` for each first turn of the set (a conversation file) or
    each entry (a list of ``{say, kinds}``, as the languages set)."""
    out = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")):
        if "kinds" in entry:
            out.append((entry["say"], set(entry["kinds"])))
            continue
        turn = entry["turns"][0]
        out.append((turn["say"], set(turn["expect"]["must_include_any"]["type"])))
    return out


def _translations(messages: list[str]) -> list[str]:
    """The default model's English for each message (greedy, no adapter, the default backend)."""
    from bot.llm.backends import local_generator
    from bot.llm.model import ModelConfig

    generator = local_generator(ModelConfig(adapter="none"))
    return [
        generator.generate(
            [{"role": "system", "content": TRANSLATE}, {"role": "user", "content": m}], 40
        ).strip()
        for m in messages
    ]


def _kinds(items: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each kind (the shop's ``type`` attribute) with a display name and a MiniLM card."""
    from bot.recsys.aspects import kind_name

    kinds: dict[str, dict[str, str]] = {}
    for it in items:
        key = it["attributes"]["type"]
        if key not in kinds:
            name = kind_name(it["title"], it["brand"])
            card = f"{name} ({' > '.join(it['categories'])}). {it['description']}"
            kinds[key] = {"name": name, "card": card}
    return kinds


def _lm_orders(messages: list[str], names: list[str], threads: int) -> dict[str, list[list[int]]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bot.llm.model import ensure_default_model

    torch.set_num_threads(threads)
    path = ensure_default_model()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    end = tok.eos_token or ""

    def scores(message: str) -> np.ndarray:
        chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]
        prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        head = tok(prompt, add_special_tokens=False).input_ids
        seqs = [head + tok(n + end, add_special_tokens=False).input_ids for n in names]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tok.pad_token_id or 0)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
        with torch.inference_mode():
            logp = model(input_ids=ids, attention_mask=mask).logits.log_softmax(-1)
        out = np.zeros(len(seqs))
        for i, s in enumerate(seqs):
            target = torch.tensor(s[len(head) :])
            lp = logp[i, len(head) - 1 : len(s) - 1].gather(1, target[:, None]).sum().item()
            out[i] = lp / len(target) ** 0.5
        return out

    prior = scores(NEUTRAL)
    raw = [scores(m) for m in messages]
    return {
        "LM, likelihood": [list(np.argsort(-r, kind="stable")) for r in raw],
        "LM, calibrated": [list(np.argsort(-(r - prior), kind="stable")) for r in raw],
    }


def _product(messages: list[str], model: str) -> list[list[str]]:
    """The kinds of the assistant's recommendations for each message (a new customer each)."""
    from benchmarks.conversation import build_assistant

    assistant, _parser = build_assistant(Path(tempfile.mkdtemp()), model=model)
    out = []
    for n, message in enumerate(messages):
        reply = assistant.chat(f"situation-{n:02d}", message)
        # the shop's ids are <kind>-<brand>-<variant>
        out.append([r.item_id.split("-")[0] for r in reply.recommendations])
    return out


def run(threads: int = 2, with_model: bool = True, path: Path = SET) -> dict[str, Any]:
    from benchmarks.conversation_shop import catalog
    from knowledge.embed import make_embedder

    t0 = time.perf_counter()
    situations = load_situations(path)
    messages = [m for m, _w in situations]
    kinds = _kinds(catalog())
    keys = list(kinds)
    orders: dict[str, list[list[str]]] = {}
    lm = _lm_orders(messages, [kinds[k]["name"] for k in keys], threads)
    for name, lm_rows in lm.items():
        orders[name] = [[keys[j] for j in row] for row in lm_rows]
    embedder = make_embedder("minilm")
    cards = np.asarray(embedder.embed([kinds[k]["card"] for k in keys]), dtype=np.float32)
    cards /= np.linalg.norm(cards, axis=1, keepdims=True)
    q = np.asarray(embedder.embed(messages), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    orders["MiniLM, kind cards"] = [[keys[j] for j in np.argsort(-row)] for row in q @ cards.T]
    orders["product, no model"] = _product(messages, "none")
    if with_model:
        orders["product, default model"] = _product(messages, "default")
    translations: list[str] = []
    if path == LANGUAGES:
        translations = _translations(messages)
        orders["LM translation, then the product (no model)"] = _product(translations, "none")
    rows: dict[str, dict[str, int]] = {}
    for name, ranked in orders.items():
        top1 = sum(bool(r) and r[0] in w for r, (_m, w) in zip(ranked, situations, strict=True))
        top3 = sum(bool(set(r[:3]) & w) for r, (_m, w) in zip(ranked, situations, strict=True))
        rows[name] = {"top1": top1, "top3": top3, "n": len(situations)}
    return {
        "env": environment(),
        "set": str(path.relative_to(Path(__file__).parent.parent)),
        "kinds": len(keys),
        "readers": rows,
        "picks": {name: [r[:3] for r in ranked] for name, ranked in orders.items()},
        "messages": messages,
        "translations": translations,
        "wall_s": time.perf_counter() - t0,
    }


def markdown(res: dict[str, Any], command: str) -> str:
    rows = [
        [name, f"{r['top1']} / {r['n']}", f"{r['top3']} / {r['n']}"]
        for name, r in res["readers"].items()
    ]
    parts = [
        "# Reading situations: which kind of item a described problem needs"
        if not res.get("translations")
        else "# Reading other languages: which kind of item a request in another language names",
        environment_markdown(res["env"]),
        f"Command: `{command}` · set `{res['set']}` ({len(res['messages'])} messages, "
        f"written for this benchmark) · {res['kinds']} kinds to choose from · wall time "
        f"{res['wall_s']:.0f} s.",
        table(["reader", "top-1 kind", "a wanted kind in the top 3"], rows),
        "The LM rows rank every kind's name by the default model's likelihood (see the module "
        "docstring); the product rows read the kinds of the items the assistant recommends.",
    ]
    if res.get("translations"):
        parts.append(table(["message", "the model's English"], [
            [m.replace("|", "/"), t.replace("|", "/").replace("\n", " ")]
            for m, t in zip(res["messages"], res["translations"], strict=True)
        ]))  # fmt: skip
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.situations", description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-model-chat",
        action="store_true",
        help="skip the assistant with the default model (the LM rows still run)",
    )
    p.add_argument(
        "--set",
        choices=("situations", "languages"),
        default="situations",
        help="situations (15_situations.yaml) or other-language requests (parser/languages.yaml)",
    )
    p.add_argument("--out", default=None, help="results/<out>.{md,json}")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    path = LANGUAGES if a.set == "languages" else SET
    out = a.out or ("situations" if a.set == "situations" else "situations-languages")
    res = run(a.threads, not a.no_model_chat, path)
    command = "python -m benchmarks.situations" + (" " + " ".join(argv or []) if argv else "")
    write_results(out, res, markdown(res, command))
    for name, r in res["readers"].items():
        print(f"{name}: top-1 {r['top1']}/{r['n']}, top-3 {r['top3']}/{r['n']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
