"""The Markdown report of ``benchmarks.quality`` (tables, the issue's targets, SASRec log)."""

from __future__ import annotations

from typing import Any

from benchmarks.common import environment_markdown, table

__all__ = ["markdown", "targets"]

KS = (5, 10, 20)
STAGE = "candidate stage"
TARGET_MARGIN = 0.10  # the stage vs the strongest single baseline (issue 22)
SASREC_TARGET = {"beauty": 0.057}  # NDCG@10 history excluded, the reference SASRec (issue 22)


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def _ci(m: dict[str, float]) -> str:
    return f"{_fmt(m['mean'])} [{_fmt(m['lo'])}, {_fmt(m['hi'])}]"


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}%"


def targets(res: dict[str, Any]) -> list[str]:
    """One line per issue target: met or not met, with the numbers."""
    lines = []
    p = res.get("paired", {}).get("all")
    if p:
        ok = p["rel"] >= TARGET_MARGIN and p["diff_lo"] > 0
        lines.append(
            f"- Candidate stage >= 10% above the strongest single baseline of this run (NDCG@10, "
            f"history excluded, all {res['n_users']:,} users), paired interval above 0: stage "
            f"{_fmt(p['a'])} vs {p['baseline']} {_fmt(p['b'])} = {_pct(p['rel'])} "
            f"[{_pct(p['rel_lo'])}, {_pct(p['rel_hi'])}]: **{'met' if ok else 'not met'}**."
        )
    e = res.get("paired_ensemble", {}).get("all")
    if e:
        lines.append(
            f"- For the record (not a target): the stage vs its own sequential source, the "
            f"{res['stage_info'].get('sasrec_models', 2)} SASRecs averaged: {_fmt(e['a'])} vs "
            f"{_fmt(e['b'])} = {_pct(e['rel'])} [{_pct(e['rel_lo'])}, {_pct(e['rel_hi'])}]."
        )
    want = SASREC_TARGET.get(res["dataset"])
    sas = res["all"].get("SASRec")
    if want and sas:
        ok = sas["ndcg@10"] >= want
        lines.append(
            f"- SASRec NDCG@10 (history excluded) >= {want}: {_fmt(sas['ndcg@10'])}: "
            f"**{'met' if ok else 'not met'}**."
        )
    return lines


def _metrics_table(rows: dict[str, dict[str, float]]) -> str:
    cols = [f"hr@{k}" for k in KS] + [f"ndcg@{k}" for k in KS] + ["mrr"]
    head = ["system"] + [c.replace("hr@", "HR/Recall@").replace("ndcg@", "NDCG@") for c in cols]
    return table(head, [[n] + [_fmt(m[c]) for c in cols] for n, m in rows.items()])


def _stage_section(res: dict[str, Any]) -> str:
    info = res["stage_info"]
    dep = res["stage_defaults_departed"]
    departed = (
        "with the product's default `StageConfig`"
        if not dep
        else "with the product's default `StageConfig` except "
        + ", ".join(f"`{k}={v}`" for k, v in dep.items())
    )
    weights = ", ".join(f"{n} {w:.3f}" for n, w in res["stage_weights"].items())
    lines = [
        f"The candidate stage is `bot.recsys.stage.fit_stage` {departed}, fitted on every "
        "user's sequence minus its test item"
        + ("" if res["semantic"] else " (no item texts: no semantic source)")
        + (
            "; loaded from its cache (fitted earlier on the same data)"
            if info.get("cached")
            else ""
        )
        + (
            f". RRF weights (which sources serve; the learned fusion below ranks): {weights}."
            if info.get("weights_from") == "learned"
            else f". Served weights: {weights}."
        ),
    ]
    if "check_ndcg10" in info:
        checks = ", ".join(f"{n} {_fmt(v)}" for n, v in info["check_ndcg10"].items())
        lines.append(
            f"Validation (each user's second-to-last item, three disjoint slices): "
            f"{info.get('sasrec_valid_users', 0):,} users' targets chose SASRec's epoch; "
            f"{info['tune_users']:,} others tuned the fusion grid (tuned "
            f"`{info['tuned_weights']}`, NDCG@10 {_fmt(info['tune_ndcg10'])}), shrunk toward "
            f"equal weights with share {info['shrink_share']}; {info['check_users']:,} further "
            f"users chose what serves, by NDCG@10: {checks}. Chosen: **{info['weights_from']}**"
            f"; SASRec serves: {info.get('sasrec_serves')}."
        )
    learned = info.get("learned")
    if learned:
        rank = ", ".join(f"{n} {w:.2f}" for n, w in learned["rank"].items())
        score = ", ".join(f"{n} {w:.2f}" for n, w in learned["score"].items())
        lines.append(
            "The learned fusion (`LearnedFusion`: a linear score over each source's rank term "
            "and its score against the list's top one, fitted on the tuning slice with a SASRec "
            "refit without the tuning and check targets"
            + ("; **it serves**" if info.get("weights_from") == "learned" else "; not served")
            + f"): rank weights {rank}; score weights {score}."
        )
    return "\n\n".join(lines)


def _paired_section(res: dict[str, Any]) -> str:
    rows = []
    for key, label in (("all", "history excluded"), ("all_kept", "history kept")):
        for p in (res.get("paired", {}).get(key), res.get("paired_ensemble", {}).get(key)):
            if not p:
                continue
            rows.append([label, p["baseline"], _fmt(p["a"]), _fmt(p["b"]),
                         f"{_fmt(p['diff'])} [{_fmt(p['diff_lo'])}, {_fmt(p['diff_hi'])}]",
                         f"{_pct(p['rel'])} [{_pct(p['rel_lo'])}, {_pct(p['rel_hi'])}]"])  # fmt: skip
    return table(
        ["convention", "compared with", "stage NDCG@10", "baseline NDCG@10",
         "difference [95%]", "relative [95%]"], rows,
    )  # fmt: skip


def _llm_section(res: dict[str, Any]) -> list[str]:
    sub = res.get("llm_subset")
    out = []
    if sub:
        rows = [
            [n, _ci(m["hr@10"]), _ci(m["ndcg@10"]), _ci(m["ndcg@20"]), _ci(m["mrr"])]
            for n, m in sub["systems"].items()
        ]
        drawn = res["sample_users"]
        partial = (
            f"All {drawn:,} sampled users were scored."
            if sub["n"] == drawn
            else f"Only {sub['n']:,} of the {drawn:,} sampled users were scored in the time "
            "available (users are scored in the seeded random order of the draw, so they are a "
            "random subset of the sample); every system below is evaluated on exactly those users."
        )
        out.append(
            f"## LLM rankers vs the other systems ({sub['n']:,} seeded test users, paired, 95% "
            "bootstrap intervals)\n\n"
            + partial
            + "\n\n"
            + table(["system", "HR@10", "NDCG@10", "NDCG@20", "MRR"], rows)
        )
        opts = res["llm_options"]
        detail = []
        for n, r in res.get("llm", {}).items():
            detail.append(
                [n, r["path"].split("/")[-1], r["quantization"], r["compute_dtype"],
                 r["adapter"] or "none", r["scored_users"], f"{r['mean_candidates']:.1f}",
                 f"{r['s_per_user_mean']:.2f} / {r['s_per_user_p95']:.2f}"
                 + ("" if r.get("timed_on", "test users") == "test users" else " (validation)"),
                 f"{r['load_before']} -> {r['load_after']}"]
            )  # fmt: skip
        weights = ", ".join(f"{n} {r.get('rank_weight')}" for n, r in res.get("llm", {}).items())
        out.append(
            f"The candidate stage's top {opts['n_candidates']} (the `fused` list, history excluded) "
            "is re-ranked with `LLMRanker.score` (one forward pass, label log-probabilities) and "
            "combined as the product does: `-log1p(stage position) + rank_weight x logp` "
            f"(rank_weight: {weights}; rank_weight 0 is the stage's own order). A target "
            f"outside the {opts['n_candidates']} candidates is a miss, so HR@20 equals the stage's "
            f"and MRR is MRR@{opts['n_candidates']}. Torch threads {opts['threads']}.\n\n"
            + table(
                [
                    "system",
                    "model",
                    "weights",
                    "compute",
                    "adapter",
                    "users",
                    "candidates",
                    "s/user mean / p95",
                    "load avg before -> after",
                ],
                detail,
            )  # fmt: skip
        )
    tuned = {n: r for n, r in res.get("llm", {}).items() if r.get("tuning", {}).get("users")}
    if tuned:
        ws = list(next(iter(tuned.values()))["tuning"]["valid_ndcg10_by_weight"])
        rows = []
        for n, r in tuned.items():
            t = r["tuning"]
            rows.append(
                [f"{n}: validation ({t['users']} users)"]
                + [_fmt(t["valid_ndcg10_by_weight"][w]) for w in ws]
                + [t["chosen"]]
            )
            if r["test_ndcg10_by_weight"]:
                rows.append([f"{n}: test ({r['scored_users']} users, not used for the choice)"]
                            + [_fmt(r["test_ndcg10_by_weight"][w]) for w in ws] + [""])  # fmt: skip
            else:
                rows.append([f"{n}: test not scored (weight 0 serves the stage's order without "
                             "the model; `--llm-test-sweep` scores it)"] + [""] * (len(ws) + 1))  # fmt: skip
        out.append(
            "### Rank weight, tuned on validation users\n\n"
            "Each LLM system first scores validation users (their validation-stage candidates, "
            "the validation item held out) and keeps the weight with the best validation NDCG@10 "
            "(the smallest on ties). The test row is the same sweep on the test users, shown "
            "for transparency only.\n\n"
            + table(["NDCG@10", *[f"w={w}" for w in ws], "chosen"], rows)
        )
    for n, why in res.get("not_run", {}).items():
        out.append(f"**{n}: not run** ({why}).")
    return out


def markdown(res: dict[str, Any]) -> str:
    """The results as a Markdown report."""
    ci_rows = [[n, _ci(m["ndcg@10"]), _ci(m["hr@10"])] for n, m in res["ci"].items()]
    rec_rows = [
        [n] + [_fmt(v[f"recall@{k}"]) for k in (10, 20, 50, 100)] for n, v in res["recall"].items()
    ]
    check_rows = [
        [n, c["lists"], c["out_of_catalog"], c["already_owned"]] for n, c in res["checks"].items()
    ]
    out = [
        f"# Offline quality: {res['title']} ({res['n_users']:,} users, {res['n_items']:,} items, "
        f"{res['n_events']:,} events)",
        environment_markdown(res["env"]),
        f"Command: `{res.get('command', '?')}` · data `{res['data']}` (format "
        f"`{res['format']}`, read with the product's loaders) · seed {res['seed']} · wall time "
        f"{res['wall_s'] / 60:.1f} min, of which fitting the stage {res['stage_s'] / 60:.1f} min.",
        "Protocol: leave-one-out in file row order (test = last, validation = second-to-last); "
        "full ranking over all items; each system returns its top 100 (MRR is MRR@100); a "
        "target outside the list is a miss. **History excluded** (the product's convention) "
        "unless marked *history kept* (the published convention). Test targets are used once.",
        "## The candidate stage\n\n" + _stage_section(res),
        "## Targets\n\n" + "\n".join(targets(res)),
        "## All test users, history excluded\n\n" + _metrics_table(res["all"]),
        "## All test users, history kept\n\n" + _metrics_table(res["all_kept"]),
        "## Stage vs the strongest single baseline (paired bootstrap over users, 1,000 "
        "resamples)\n\n" + _paired_section(res),
        "## NDCG@10 with 95% bootstrap intervals (all test users)\n\n"
        + table(["system", "NDCG@10 [95%]", "HR@10 [95%]"], ci_rows),
        *_llm_section(res),
        "## Candidate recall per source (all test users, history excluded; the semantic source "
        "never proposes history items, so its history-kept rows equal these)\n\n"
        + table(["source", "recall@10", "recall@20", "recall@50", "recall@100"], rec_rows),
        "## Catalogue and ownership checks (every list each system returned)\n\n"
        + table(["system", "lists", "out-of-catalog items", "already-owned items"], check_rows)
        + "\n\nHistory-kept runs may rank owned items; every other count must be 0.",
    ]
    sc = res.get("sasrec_config")
    if sc:
        epochs = [
            [
                f"{int(e['epoch'])}" + (" (refit on every event)" if e.get("refit") else ""),
                f"{e['loss']:.3f}",
                f"{e['train_s']:.0f}",
                "-" if e.get("refit") else _fmt(e["valid_ndcg@10"]),
            ]
            for e in res["sasrec_log"]
        ]
        out.append(
            f"## SASRec training (CE loss, max_len {sc['max_len']}, hidden {sc['hidden']}, "
            f"{sc['n_blocks']} blocks, {sc['n_heads']} head(s), dropout {sc['dropout']}, Adam lr "
            f"{sc['lr']}, batch {sc['batch_size']}, patience {sc['patience']}, max_epochs "
            f"{sc['max_epochs']}, budget {sc['time_budget_s']:.0f} s)\n\n"
            + (
                table(["epoch", "train loss", "seconds", "valid NDCG@10 (SASRec slice)"], epochs)
                if epochs
                else "Loaded from the stage cache; its training log was not kept."
            )
        )
    return "\n\n".join(out)
