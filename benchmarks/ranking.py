"""Ranking benchmark: one-pass LLM scoring of 10/20/50/100 candidates against asking the model to
write the ranked list of item names, and a held-out quality check of the ranking prompt.

    .venv/bin/python -m benchmarks.ranking                        # fp32, 10,20,50,100
    .venv/bin/python -m benchmarks.ranking --quantization nf4 --repeats 3
    git show e7451d6:bot/prompts.py > /tmp/old_prompts.py         # compare with an older prompt
    .venv/bin/python -m benchmarks.ranking --baseline-prompts /tmp/old_prompts.py

One-pass: the ranker the pipeline uses (``bot.tasks.ranker.LLMRanker`` over the default model),
one call per candidate list, timed twice per user as in a conversation: the first turn (the
instruction prefix is cached, the user's history is not) and a next turn with another candidate
list of the same size (the history's key/values come from the prefix cache). Generative: the same user and candidates in a chat prompt asking
for the names best first, decoded greedily until the list is written (capped at
``--max-list-tokens``; when the cap cuts a list short the table says so and gives the
projected time at the measured tokens/s). Users are demo users with purchase history;
candidates are the most popular catalog items they do not own. Lists longer than the ranker's
label alphabet (52) take one pass per 52.

Quality (``--quality-users``, demo store): each user's held-out next purchase
(``next_needs.jsonl``) is placed at a seeded position among the 19 most popular items the user
does not own and that are not acceptable answers; the LLM scores alone (no prior) rank the 20.
HR@1, HR@5 and MRR of the held-out item, against chance (0.05, 0.25, 0.18); with
``--baseline-prompts`` the same lists are scored with that file's ``ranking_prompt`` too.
Writes ``benchmarks/results/ranking.{md,json}``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import random
import sys
import time
from typing import Any

from benchmarks.common import (
    BENCH_DIR,
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
QUALITY_LIST = 20


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
    from bot.tasks.prompts import MAX_CANDIDATES

    passes = 0
    for start in range(0, len(cands), MAX_CANDIDATES):
        chunk = cands[start : start + MAX_CANDIDATES]
        assert len(ranker.score(view, chunk, items)) == len(chunk)
        passes += 1
    return passes


def _load_prompts_module(path: str) -> Any:
    """An older ``bot/prompts.py`` (e.g. from ``git show``) as a module, for before/after."""
    spec = importlib.util.spec_from_file_location("baseline_prompts", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline-prompts: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def quality(
    generator: Any, pipeline: Any, n_users: int, baseline: str | None, seed: int = 0
) -> dict[str, Any]:
    """HR@1/HR@5/MRR of the held-out next purchase among 20 candidates, LLM scores only."""
    from bot.tasks.ranker import LLMRanker, RankerConfig, candidate_lines, history_lines

    truth_path = BENCH_DIR / "demo-minilm-0" / "data" / "next_needs.jsonl"
    truth = [json.loads(x) for x in truth_path.read_text().splitlines() if x.strip()]
    items = pipeline.items
    popular = [i for i, _ in pipeline.popularity.most_common()] + sorted(items)
    ranker = LLMRanker(generator, RankerConfig())
    old = _load_prompts_module(baseline) if baseline else None
    ranks: dict[str, list[int]] = {"current": []}
    if old is not None:
        ranks["baseline"] = []
    tokens: dict[str, list[int]] = {k: [] for k in ranks}
    rng = random.Random(seed)
    for row in truth:
        if len(ranks["current"]) >= n_users:
            break
        view = pipeline.view(row["user_id"])
        target = row["held_out_item"]
        if view.is_new or target not in items:
            continue
        banned = set(view.owned) | set(row["acceptable_items"]) | {target}
        cands = [items[i] for i in dict.fromkeys(popular) if i not in banned][: QUALITY_LIST - 1]
        cands.insert(rng.randint(0, len(cands)), items[target])
        pos = next(k for k, c in enumerate(cands) if c.item_id == target)
        prompts = {
            "current": ranker.ranking_parts(
                history_lines(view, items, ranker.config.max_history), candidate_lines(cands)
            )
        }
        for name, parts in prompts.items():
            scores = generator.score_choices(parts.text, parts.labels, breaks=parts.breaks)
            ranks[name].append(1 + sum(s > scores[pos] for s in scores))
            tokens[name].append(
                len(generator.tokenizer(parts.text, add_special_tokens=False)["input_ids"])
            )
        if old is not None:
            text, labels = old.ranking_prompt(
                history_lines(view, items, 10), candidate_lines(cands), None, 10, 60
            )
            scores = generator.score_choices(text, labels)
            ranks["baseline"].append(1 + sum(s > scores[pos] for s in scores))
            tokens["baseline"].append(
                len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
            )
    out: dict[str, Any] = {"users": len(ranks["current"]), "list": QUALITY_LIST, "prompts": {}}
    for name, rs in ranks.items():
        n = max(1, len(rs))
        out["prompts"][name] = {
            "hr@1": round(sum(r <= 1 for r in rs) / n, 3),
            "hr@5": round(sum(r <= 5 for r in rs) / n, 3),
            "mrr": round(sum(1 / r for r in rs) / n, 3),
            "prompt_tokens_mean": round(sum(tokens[name]) / n),
            "ranks": rs,
        }
    if baseline:
        out["baseline_file"] = baseline
    return out


def run(
    quantization: str,
    sizes: list[int],
    repeats: int,
    users: int,
    max_list_tokens: int,
    generative_sizes: list[int],
    quality_users: int = 0,
    baseline: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    from bot.llm.generation import TransformersGenerator
    from bot.llm.model import ModelConfig, load_model
    from bot.llm.prefix_cache import token_cuts
    from bot.recsys.pipeline import RecommendationPipeline
    from bot.tasks.prompts import MAX_CANDIDATES
    from bot.tasks.ranker import LLMRanker, candidate_lines, history_lines
    from knowledge.store import Store, StoreConfig

    env = environment()
    path = demo_store()
    store = Store(StoreConfig(path=str(path), embedder="minilm"))
    pipeline = RecommendationPipeline(store)
    generator = TransformersGenerator(
        load_model(ModelConfig(quantization=quantization, threads=threads))  # type: ignore[arg-type]
    )
    env["torch_threads"] = threads or env["torch_threads"]
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
        first, nxt, gen, tokens, prompt_tokens, suffix_tokens = [], [], [], [], [], []
        truncated, passes = 0, 1
        load_before = load()
        for r in range(repeats):
            for view in views:
                cands = _candidates(view, popular, items, n)
                later = _candidates(view, popular, items, n, skip=n)
                if r == 0:
                    parts = ranker.ranking_parts(
                        history_lines(view, items, ranker.config.max_history),
                        candidate_lines(cands[:MAX_CANDIDATES]),
                    )
                    enc = tok(parts.text, add_special_tokens=False, return_offsets_mapping=True)
                    prompt_tokens.append(len(enc["input_ids"]))
                    cut = token_cuts(enc["offset_mapping"], parts.breaks)[-1]
                    suffix_tokens.append(len(enc["input_ids"]) - cut)
                # A new conversation: only the instruction prefix is cached.
                generator.prefix_cache.clear()
                ranker.score(views[-1] if view is not views[-1] else views[0], cands[:2], items)
                t0 = time.perf_counter()
                passes = _score(ranker, view, cands, items)
                first.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                _score(ranker, view, later, items)  # the next turn: history cached
                nxt.append(time.perf_counter() - t0)
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
            "turn_tokens_mean": round(sum(suffix_tokens) / max(1, len(suffix_tokens))),
            "one_pass": summary(first),
            "next_turn": summary(nxt),
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
    if quality_users:
        load_before = load()
        result["quality"] = quality(generator, pipeline, quality_users, baseline)
        result["quality"]["load_avg"] = [load_before, load()]
        log.info("quality: %s", json.dumps(result["quality"])[:600])
    store.close()
    return result


def _candidates(
    view: Any, popular: list[str], items: dict[str, Any], n: int, skip: int = 0
) -> list[Any]:
    owned = view.owned
    out, seen = [], set()
    for i in popular:
        if i in items and i not in owned and i not in seen:
            seen.add(i)
            out.append(items[i])
        if len(out) == n + skip:
            break
    return out[skip:]


def _quality_markdown(q: dict[str, Any]) -> list[str]:
    rows = [
        [name, p["prompt_tokens_mean"], p["hr@1"], p["hr@5"], p["mrr"]]
        for name, p in q["prompts"].items()
    ]
    rows.append(["chance", "", 0.05, 0.25, 0.18])
    return [
        "## Quality of the ranking prompt (held-out next purchase, demo store)",
        "",
        f"{q['users']} demo users; each user's held-out next purchase at a seeded position among "
        f"{q['list'] - 1} popular items they do not own (acceptable answers excluded); ranked by "
        "the LLM's label log-probabilities alone (no candidate-stage prior). `baseline` is "
        f"{q.get('baseline_file', '-')}. Load 1-min {q['load_avg'][0][0]}→{q['load_avg'][1][0]}.",
        "",
        table(["prompt", "prompt tokens (20 candidates)", "HR@1", "HR@5", "MRR"], rows),
        "",
    ]


def markdown(r: dict[str, Any]) -> str:
    rows = []
    for n, e in r["sizes"].items():
        o, g = e["one_pass"], e.get("generative")
        nt = e.get("next_turn", {})
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
            target_next = "met" if nt.get("n") and nt["p95_ms"] <= TARGET_20_S * 1000 else "NOT met"
            target = f"{target} / {target_next}"
        rows.append(
            [
                n,
                e["prompt_tokens_mean"],
                e.get("turn_tokens_mean", ""),
                e["passes"],
                f"{o['p50_ms'] / 1000:.3f} / {o['p95_ms'] / 1000:.3f}",
                f"{nt['p50_ms'] / 1000:.3f} / {nt['p95_ms'] / 1000:.3f}" if nt.get("n") else "-",
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
            "`bot.tasks.ranker.LLMRanker.score` (what the pipeline runs), seconds p50 / p95: on a "
            "conversation's first turn (instruction prefix cached, the user's history not) and on "
            "its next turn (history from the prefix cache; only the turn tokens are computed). "
            f"Target: 20 candidates <= {TARGET_20_S} s (p95; first / next turn). Generative: the "
            "model writes the ranked names (greedy), one run per size.",
            "",
            table(
                [
                    "candidates",
                    "prompt tokens",
                    "turn tokens",
                    "passes",
                    "first turn s",
                    "next turn s",
                    "target",
                    "generative listing",
                    "load 1-min",
                ],
                rows,
            ),
            "",
            *(_quality_markdown(r["quality"]) if "quality" in r else []),
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
    p.add_argument("--generative-sizes", default="20,50")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--users", type=int, default=5)
    p.add_argument("--max-list-tokens", type=int, default=400)
    p.add_argument("--quality-users", type=int, default=100, help="0 skips the quality check")
    p.add_argument("--baseline-prompts", default=None, help="an older bot/prompts.py to compare")
    p.add_argument("--out", default="ranking", help="results name under benchmarks/results/")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the model's)")
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
        args.quality_users,
        args.baseline_prompts,
        args.threads,
    )
    write_results(args.out, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
