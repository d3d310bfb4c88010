"""Ranking benchmark: one-pass LLM scoring of 10/20/50/100 candidates against asking the model to
write the ranked list of item names.

    .venv/bin/python -m benchmarks.ranking                        # fp32, 10,20,50,100
    .venv/bin/python -m benchmarks.ranking --quantization nf4 --repeats 3

One-pass: the ranker the pipeline uses (``bot.ranker.LLMRanker`` over the default model),
one call per candidate list. Generative: the same user and candidates in a chat prompt asking
for the names best first, decoded greedily until the list is written (capped at
``--max-list-tokens``; when the cap cuts a list short the table says so and gives the
projected time at the measured tokens/s). Users are demo users with purchase history;
candidates are the most popular catalog items they do not own. Lists longer than the ranker's
label alphabet (52) take one pass per 52.
Writes ``benchmarks/results/ranking.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

from benchmarks.common import (
    demo_store,
    demo_users,
    environment,
    environment_markdown,
    load,
    summary,
    table,
    write_results,
)

__all__ = ["run"]

log = logging.getLogger("benchmarks.ranking")

TARGET_20_S = 0.5
SIZES = (10, 20, 50, 100)


def _listing_messages(
    view: Any, candidates: list[Any], items: dict[str, Any]
) -> list[dict[str, str]]:
    bought = [items[e.item_id].title for e in view.purchases[-10:] if e.item_id in items]
    names = "\n".join(f"- {c.title}" for c in candidates)
    return [
        {"role": "system", "content": "You are a shop assistant that ranks products."},
        {
            "role": "user",
            "content": "The customer bought: "
            + "; ".join(bought)
            + "\n\nProducts:\n"
            + names
            + "\n\nWrite all the product names, one per line, the one they most likely need next first.",
        },
    ]


def _score(ranker: Any, view: Any, cands: list[Any], items: dict[str, Any]) -> int:
    """Score like the pipeline; lists longer than the label alphabet take several passes."""
    from bot.prompts import MAX_CANDIDATES

    passes = 0
    for start in range(0, len(cands), MAX_CANDIDATES):
        chunk = cands[start : start + MAX_CANDIDATES]
        assert len(ranker.score(view, chunk, items)) == len(chunk)
        passes += 1
    return passes


def run(
    quantization: str,
    sizes: list[int],
    repeats: int,
    users: int,
    max_list_tokens: int,
    generative_sizes: list[int],
) -> dict[str, Any]:
    from bot.generation import TransformersGenerator
    from bot.model import ModelConfig, load_model
    from bot.pipeline import RecommendationPipeline
    from bot.prompts import MAX_CANDIDATES
    from bot.ranker import LLMRanker
    from knowledge.store import Store, StoreConfig

    env = environment()
    path = demo_store()
    store = Store(StoreConfig(path=str(path), embedder="minilm"))
    pipeline = RecommendationPipeline(store)
    generator = TransformersGenerator(load_model(ModelConfig(quantization=quantization)))
    ranker = LLMRanker(generator)
    tok = generator.tokenizer
    items = pipeline.items
    views = [v for u in demo_users() if not (v := pipeline.view(u)).is_new][:users]
    popular = [i for i, _ in pipeline.popularity.most_common()] + list(items)
    result: dict[str, Any] = {
        "environment": env,
        "quantization": quantization,
        "store": f"demo ({len(items)} items)",
        "max_candidates_per_pass": MAX_CANDIDATES,
        "sizes": {},
    }
    ranker.score(views[0], _candidates(views[0], popular, items, 10), items)  # warm-up
    for n in sizes:
        one_pass, gen, tokens, prompt_tokens, truncated, passes = [], [], [], [], 0, 1
        load_before = load()
        for r in range(repeats):
            for view in views:
                cands = _candidates(view, popular, items, n)
                if r == 0:
                    prompt, _labels = ranker.prompt(view, cands[:MAX_CANDIDATES], items)
                    prompt_tokens.append(len(tok(prompt)["input_ids"]))
                t0 = time.perf_counter()
                passes = _score(ranker, view, cands, items)
                one_pass.append(time.perf_counter() - t0)
        if n in generative_sizes:
            view = views[0]
            cands = _candidates(view, popular, items, n)
            budget = min(max_list_tokens, 14 * n)
            t0 = time.perf_counter()
            text = generator.generate(_listing_messages(view, cands, items), budget)
            gen.append(time.perf_counter() - t0)
            used = len(tok(text, add_special_tokens=False)["input_ids"])
            tokens.append(used)
            truncated += int(used >= budget - 1 and text.count("\n") + 1 < n)
        entry: dict[str, Any] = {
            "candidates": n,
            "passes": passes,
            "prompt_tokens_mean": round(sum(prompt_tokens) / max(1, len(prompt_tokens))),
            "one_pass": summary(one_pass),
            "load_avg": [load_before, load()],
        }
        if gen:
            tok_s = sum(tokens) / max(sum(gen), 1e-9)
            lines_per_name = max(1, len(tok(cands[0].title)["input_ids"]) + 1)
            entry["generative"] = {
                **summary(gen),
                "tokens": tokens,
                "tokens_per_s": round(tok_s, 1),
                "cut_short": truncated,
                "projected_full_list_s": round(lines_per_name * n / max(tok_s, 1e-9), 1),
            }
        result["sizes"][str(n)] = entry
        log.info("%d candidates: %s", n, json.dumps(entry)[:400])
    store.close()
    return result


def _candidates(view: Any, popular: list[str], items: dict[str, Any], n: int) -> list[Any]:
    owned = view.owned
    out, seen = [], set()
    for i in popular:
        if i in items and i not in owned and i not in seen:
            seen.add(i)
            out.append(items[i])
        if len(out) == n:
            break
    return out


def markdown(r: dict[str, Any]) -> str:
    rows = []
    for n, e in r["sizes"].items():
        o, g = e["one_pass"], e.get("generative")
        gen_cell = "-"
        if g:
            gen_cell = (
                f"{g['p50_ms'] / 1000:.1f} s ({sum(g['tokens'])} tokens, {g['tokens_per_s']} tok/s)"
            )
            if g["cut_short"]:
                gen_cell += f"; cut short, full list ≈ {g['projected_full_list_s']} s"
        target = ""
        if n == "20":
            target = "met" if o["p95_ms"] <= TARGET_20_S * 1000 else "NOT met"
        rows.append(
            [
                n,
                e["prompt_tokens_mean"],
                e["passes"],
                f"{o['p50_ms'] / 1000:.3f} / {o['p95_ms'] / 1000:.3f}",
                target,
                gen_cell,
                f"{e['load_avg'][0][0]}→{e['load_avg'][1][0]}",
            ]
        )
    return "\n".join(
        [
            "# Ranking cost vs number of candidates",
            "",
            environment_markdown(r["environment"]),
            "",
            f"Model: default, {r['quantization']}. Store: {r['store']}. One-pass: "
            "`bot.ranker.LLMRanker.score` (what the pipeline runs; prompt tokens of one pass), "
            f"seconds p50 / p95. Target: 20 candidates <= {TARGET_20_S} s. Generative: the model "
            "writes the ranked names (greedy), one run per size.",
            "",
            table(
                [
                    "candidates",
                    "prompt tokens",
                    "passes",
                    "one-pass s",
                    "target",
                    "generative listing",
                    "load 1-min",
                ],
                rows,
            ),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.ranking",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quantization", default="fp32", choices=["fp32", "bf16", "nf4"])
    p.add_argument("--sizes", default="10,20,50,100")
    p.add_argument("--generative-sizes", default="10,20,50,100")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--max-list-tokens", type=int, default=400)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    result = run(
        args.quantization,
        ints(args.sizes),
        args.repeats,
        args.users,
        args.max_list_tokens,
        ints(args.generative_sizes),
    )
    write_results("ranking", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
