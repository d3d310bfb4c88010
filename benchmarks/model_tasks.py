"""The model's writing tasks vs the non-model path, on held-out items and reviews.

Items (and all their reviews) are held out by :func:`finetune.dataset.writing_split` (its
"test" split): the adapter never saw them. Two tasks:

- description: the served path (:func:`bot.tasks.describe.generated_sentence` after the fact
  description) per held-out item. Measured: the share of descriptions that keep a model sentence,
  faithfulness of the raw model sentence and of what is shown (:func:`claims_in_facts`, a check
  independent of the product's grounding filter), and the latency of the model part.
- review reply: held-out shop reviews plus hand-written safety reports and complaints (worded
  apart from the training grammar), each answered by the template
  (:func:`bot.chat.skills.reviews.reply_to_review`) and by the model
  (:func:`bot.tasks.review_reply`); scored by :func:`bot.tasks.review_reply.reply_checks`.

    python -m benchmarks.model_tasks run --system base --out runs/model-tasks/base.json
    python -m benchmarks.model_tasks run --system adapter --adapter PATH --out runs/.../a.json
    python -m benchmarks.model_tasks report runs/model-tasks/*.json --out benchmarks/results/model-tasks
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["claims_in_facts", "HELD_OUT_REPORTS", "run", "report"]

log = logging.getLogger("benchmarks.model_tasks")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# Quality, popularity and formula claims a catalog fact would have to state (the base model adds
# them freely: "a luxury product", "a reputable brand", "a natural, non-greasy formula").
_QUALITY = re.compile(
    r"\b(luxur\w*|premium|high[- ]quality|quality|high[- ]end|popular\w*|reputable|well[- ]known|"
    r"natural\w*|organic|non[- ]greasy|rechargeable|durab\w*|best|perfect\w*|favou?rite\w*|"
    r"affordable|unique|exclusive|healthy|gentle|soft|smooth|delicious|fresh|love|trusted|"
    r"professional|eco[- ]friendly|cat[- ]friendly|long[- ]lasting|great|excellent|ideal)\b",
    re.I,
)
_MONEY = re.compile(
    r"\b(free|discount\w*|sale|offer|deal|bargain|cheap\w*|% off|percent off|refund\w*|"
    r"coupon\w*|guarantee\w*|warrant\w*)\b",
    re.I,
)

# Safety reports and complaints for evaluation only: different wording and structure from the
# training grammar (finetune.writing). (text, rating, kind)
HELD_OUT_REPORTS: tuple[tuple[str, float, str], ...] = (
    ("Two hours after dinner our puppy was throwing up and shaking. Terrible.", 1, "safety"),
    ("This cream made my face swell up and turn red.", 1, "safety"),
    ("My little boy got hives all over his arms after his bath with this.", 2, "safety"),
    ("The cat refused it and then had an upset tummy for two days. Is it safe?", 2, "safety"),
    ("Burned my scalp. Do not leave it on longer than a minute.", 1, "safety"),
    ("I think my dog got sick from this batch, he has been lethargic since.", 1, "safety"),
    ("Caused an itchy red patch under my arms within a day.", 2, "safety"),
    ("The handle snapped off on day three.", 1, "complaint"),
    ("Parcel came crushed and the jar was cracked open.", 1, "complaint"),
    ("Nothing like the picture, the colour is way off.", 2, "complaint"),
    ("Waited almost three weeks for it to show up.", 2, "complaint"),
    ("Gave up after a week, it simply does nothing for me.", 1, "complaint"),
)


def claims_in_facts(sentence: str, facts: list[str], vocabulary: set[str]) -> bool:
    """True when every claim of ``sentence`` is in ``facts``: numbers (sizes, prices, days,
    ratings), money/promise words, quality/formula words ("luxury", "natural"), and catalog words (brands, lines, shades, kinds of other
    items) that this item's facts do not contain."""
    fact_text = " ".join(facts).lower()
    if any(n not in fact_text for n in _NUMBER.findall(sentence)):
        return False
    # a price is the item's price ("a $300 pack" when 300 is the size in grams is wrong), and
    # a number the facts only give as a price is one ("a 244.99 unit")
    prices = set(re.findall(r"\$(\d+(?:[.,]\d+)?)", fact_text))
    said = set(re.findall(r"\$(\d+(?:[.,]\d+)?)", sentence))
    if said - prices:
        return False
    without_prices = re.sub(r"\$\d+(?:[.,]\d+)?", " ", fact_text)
    for n in _NUMBER.findall(re.sub(r"\$\d+(?:[.,]\d+)?", " ", sentence)):
        if n in prices and not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", without_prices):
            return False
    if any(m.group(0).lower() not in fact_text for m in _MONEY.finditer(sentence)):
        return False
    if any(m.group(0).lower() not in fact_text for m in _QUALITY.finditer(sentence)):
        return False
    words = set(re.findall(r"[a-z][a-z&'-]+", sentence.lower()))
    fact_words = set(re.findall(r"[a-z][a-z&'-]+", fact_text))
    return not (words & vocabulary) - fact_words


def _catalog_vocabulary(items: list[Any]) -> set[str]:
    """Words that name a specific item property somewhere in the catalog (brand, line, shade,
    type): using one the item's facts lack is a wrong claim."""
    vocab: set[str] = set()
    for it in items:
        attrs = it.attributes or {}
        for text in (it.brand, attrs.get("line"), attrs.get("shade"), attrs.get("type")):
            if text:
                vocab |= set(re.findall(r"[a-z][a-z&'-]{3,}", str(text).lower()))
    generic = {"classic", "daily", "original", "standard", "travel", "size", "pack", "light"}
    return vocab - generic


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


class _Tap:
    """A generator wrapper that records the raw text the product's filter then judges."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator
        self.name = generator.name
        self.raw: list[str] = []

    def stream(self, messages: Any, n: int, stop: Any = None) -> Any:
        for piece in self.generator.stream(messages, n, stop):
            self.raw.append(piece)
            yield piece


class _Replay:
    """A generator that streams a recorded model sentence again."""

    name = "replay"

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, messages: Any, n: int, stop: Any = None) -> Any:
        yield self.text + " "


def _held_out(store: Any, limit_items: int, limit_reviews: int) -> tuple[list[Any], list[Any]]:
    from finetune.dataset import DatasetConfig, corpus_from_store, writing_split

    corpus = corpus_from_store(store)
    cfg = DatasetConfig()
    items = [corpus.items[i] for i in sorted(corpus.items) if writing_split(i, cfg) == "test"]
    held = {it.item_id for it in items}
    seen: set[str] = set()
    reviews = []
    for user in sorted(corpus.events):
        for e in corpus.events[user]:
            text = " ".join(e.text.split())
            if e.kind == "review" and e.item_id in held and text and text not in seen:
                seen.add(text)
                reviews.append(e)
    # every rating present: stratified by rating, in a fixed order
    by_rating: dict[float, list[Any]] = {}
    for e in reviews:
        by_rating.setdefault(float(e.rating or 0), []).append(e)
    picked: list[Any] = []
    while len(picked) < limit_reviews and any(by_rating.values()):
        for r in sorted(by_rating):
            if by_rating[r] and len(picked) < limit_reviews:
                picked.append(by_rating[r].pop(0))
    return items[:limit_items], picked


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate one system ("template" needs no model; "base"/"adapter" load one)."""
    from bot.chat.config import ServiceConfig
    from bot.chat.skills.reviews import reply_to_review
    from bot.tasks.describe import fact_description, generated_sentence, item_facts
    from bot.tasks.review_reply import REPLY_MAX_NEW_TOKENS, reply_checks, review_reply_messages
    from knowledge.store import Store, StoreConfig

    store = Store(StoreConfig.from_env(path=args.store))
    items, reviews = _held_out(store, args.items, args.reviews)
    vocab = _catalog_vocabulary(list(store.all_items()))
    generator: Any = None
    if args.system != "template":
        from bot.llm.backends import local_generator
        from bot.llm.model import ModelConfig

        adapter = args.adapter if args.system == "adapter" else None
        generator = local_generator(
            ModelConfig(
                quantization=args.quantization,
                adapter=adapter or "none",
                threads=args.threads,
                backend=args.backend,
            )
        )
    out: dict[str, Any] = {
        "system": args.label or args.system,
        "adapter": args.adapter,
        "quantization": args.quantization,
        "backend": args.backend,
        "descriptions": [],
    }
    for it in items if generator is not None else []:
        rating = store.item_review_stats(it.item_id)
        facts = item_facts(it, rating)
        text = fact_description(it, rating)
        t0 = time.perf_counter()
        tap = _Tap(generator)
        kept = generated_sentence(tap, facts, text)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t0
        first = re.split(r"(?<=[.!?])\s+", "".join(tap.raw).strip(), maxsplit=1)[0]
        out["descriptions"].append(
            {
                "item_id": it.item_id,
                "raw": first,
                "kept": kept,
                "raw_faithful": claims_in_facts(first, facts, vocab),
                "kept_faithful": claims_in_facts(kept, facts, vocab) if kept else None,
                "seconds": round(seconds, 3),
            }
        )
        log.info("%s: %.2fs kept=%r raw=%r", it.item_id, seconds, kept, first)
    cases: list[tuple[str, float | None, str | None, str]] = [
        (e.text, e.rating, None, store.get_item(e.item_id).title) for e in reviews
    ]
    titles = [it.title for it in items] or ["this item"]
    if args.reviews:
        cases += [
            (t, float(r), k, titles[n % len(titles)])
            for n, (t, r, k) in enumerate(HELD_OUT_REPORTS)
        ]
    service = ServiceConfig()
    out["replies"] = []
    for text, stars, kind, title in cases:
        row: dict[str, Any] = {"review": text, "rating": stars, "kind": kind, "title": title}
        if generator is None:
            from knowledge.schema import Item

            reply, _ = reply_to_review(text, stars, Item("x", title), service)
            reply = reply.split("\n")[0]  # the signature line is not part of the answer
            row.update(reply=reply, seconds=0.0)
        else:
            t0 = time.perf_counter()
            reply = generator.generate(
                review_reply_messages(text, stars, title), REPLY_MAX_NEW_TOKENS
            )
            row.update(reply=" ".join(reply.split()), seconds=round(time.perf_counter() - t0, 3))
        row["checks"] = reply_checks(row["reply"], text, stars, title, kind)
        out["replies"].append(row)
        log.info("reply %.2fs ok=%s %r", row["seconds"], all(row["checks"].values()), row["reply"])
    return out


def _summary(res: dict[str, Any]) -> dict[str, Any]:
    d = res["descriptions"]
    label = res["system"]
    if res["system"] != "template" and res.get("quantization"):
        on = ", llama.cpp" if res.get("backend") == "llamacpp" else ""
        label += f" ({res['quantization']}{on})"
    s: dict[str, Any] = {"system": label}
    if d:
        kept = [x for x in d if x["kept"]]
        secs = [x["seconds"] for x in d]
        s["description"] = {
            "items": len(d),
            "kept_share": round(len(kept) / len(d), 3),
            "raw_faithful": round(sum(x["raw_faithful"] for x in d) / len(d), 3),
            "shown_faithful": round(sum(bool(x["kept_faithful"]) for x in kept) / len(kept), 3)
            if kept
            else None,
            "p50_s": round(statistics.median(secs), 3),
            "p95_s": round(_pct(secs, 0.95) or 0.0, 3),
        }
    r = res["replies"]
    if not r:
        return s
    names = list(r[0]["checks"])
    kinds = sorted({row["kind"] or "shop review" for row in r})
    s["reply"] = {
        "reviews": len(r),
        "all_checks": round(sum(all(x["checks"].values()) for x in r) / len(r), 3),
        "per_check": {n: round(sum(x["checks"][n] for x in r) / len(r), 3) for n in names},
        "per_kind_all_checks": {
            k: round(
                sum(all(x["checks"].values()) for x in r if (x["kind"] or "shop review") == k)
                / max(1, sum(1 for x in r if (x["kind"] or "shop review") == k)),
                3,
            )
            for k in kinds
        },
        "p50_s": round(statistics.median([x["seconds"] for x in r]), 3),
        "p95_s": round(_pct([x["seconds"] for x in r], 0.95) or 0.0, 3),
    }
    return s


def report(paths: list[str], out: str, command: str, store: str) -> dict[str, Any]:
    """Combine per-system results into ``<out>.json`` and ``<out>.md``."""
    from bot.llm.memory import cpu_name
    from bot.tasks.describe import fact_description, generated_sentence, item_facts
    from knowledge.store import Store, StoreConfig

    results = [json.loads(Path(p).read_text()) for p in paths]
    # faithfulness is recomputed here, so every system is judged by the same (current) check
    shop = Store(StoreConfig.from_env(path=store))
    vocab = _catalog_vocabulary(list(shop.all_items()))
    from bot.tasks.review_reply import reply_checks

    for res in results:
        for rep in res["replies"]:
            rep["checks"] = reply_checks(
                rep["reply"], rep["review"], rep["rating"], rep["title"], rep["kind"]
            )
        for row in res["descriptions"]:
            item = shop.get_item(row["item_id"])
            stats = shop.item_review_stats(item.item_id)
            facts = item_facts(item, stats)
            # the product's current filter, applied to the recorded (greedy) model sentence
            replay: Any = _Replay(row["raw"])  # only stream() is used
            row["kept"] = generated_sentence(replay, facts, fact_description(item, stats))
            row["raw_faithful"] = claims_in_facts(row["raw"], facts, vocab)
            row["kept_faithful"] = (
                claims_in_facts(row["kept"], facts, vocab) if row["kept"] else None
            )
    summaries = [_summary(r) for r in results]
    doc = {
        "hardware": f"{cpu_name()}, 2 cores shared with other jobs, Python {platform.python_version()}",
        "commands": command,
        "summaries": summaries,
        "results": results,
    }
    Path(out + ".json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Model writing tasks vs the non-model path (held-out items and reviews)",
        "",
        f"Hardware: {doc['hardware']}. Commands: `{command}`.",
        "",
        "| system | descriptions keeping a model sentence | raw sentence faithful | shown "
        "sentence faithful | description p50 / p95 s | replies passing all checks | reply p50 / "
        "p95 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        d = s.get("description")
        r = s.get("reply", {"all_checks": 0, "reviews": 0, "p50_s": "-", "p95_s": "-"})
        dcells = (
            f"{d['kept_share']:.0%} of {d['items']} | {d['raw_faithful']:.0%} | "
            f"{d['shown_faithful'] if d['shown_faithful'] is not None else '-'} | "
            f"{d['p50_s']} / {d['p95_s']}"
            if d
            else "0% (facts only) | - | 1.0 (facts) | 0 / 0"
        )
        rcell = f"{r['all_checks']:.0%} of {r['reviews']}" if r["reviews"] else "not run"
        lines.append(f"| {s['system']} | {dcells} | {rcell} | {r['p50_s']} / {r['p95_s']} |")
    lines += ["", "Reply checks, share passing:", ""]
    with_replies = [s for s in summaries if "reply" in s]
    first = (
        with_replies[0]["reply"] if with_replies else {"per_check": {}, "per_kind_all_checks": {}}
    )
    names = list(first["per_check"])
    kinds = list(first["per_kind_all_checks"])
    lines.append(
        "| system | " + " | ".join(names) + " | " + " | ".join(f"all ({k})" for k in kinds) + " |"
    )
    lines.append("|---" * (1 + len(names) + len(kinds)) + "|")
    for s in with_replies:
        r = s["reply"]
        cells = [f"{r['per_check'][n]:.2f}" for n in names]
        cells += [f"{v:.2f}" for v in r["per_kind_all_checks"].values()]
        lines.append(f"| {s['system']} | " + " | ".join(cells) + " |")
    Path(out + ".md").write_text("\n".join(lines) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.model_tasks", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--system", choices=["template", "base", "adapter"], required=True)
    r.add_argument("--adapter", default=None)
    r.add_argument("--label", default=None, help="system name in the report (default: --system)")
    r.add_argument("--store", default=".nextneed/demo-store")
    r.add_argument("--quantization", default="fp32", choices=["nf4", "fp32"])
    r.add_argument("--items", type=int, default=40)
    r.add_argument(
        "--backend", default="transformers", choices=["auto", "transformers", "llamacpp"]
    )
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--reviews", type=int, default=24, help="held-out shop reviews (0: no replies)")
    r.add_argument("--out", required=True)
    g = sub.add_parser("report")
    g.add_argument("paths", nargs="+")
    g.add_argument("--out", required=True)
    g.add_argument("--command", default="")
    g.add_argument("--store", default=".nextneed/demo-store")
    ns = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if ns.cmd == "run":
        res = run(ns)
        Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.out).write_text(json.dumps(res, indent=2) + "\n")
        json.dump(_summary(res), sys.stdout, indent=2)
    else:
        report(ns.paths, ns.out, ns.command, ns.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
