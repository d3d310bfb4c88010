"""Instruction datasets built from the store (or from plain sequences, e.g. Amazon Beauty).

Split rule, per user with item sequence ``s`` (purchases and reviews, in sequence order):
test target ``s[-1]``, validation target ``s[-2]``, training targets ``s[t]`` for ``1 <= t < n-2``
with history ``s[:t]``. Training examples therefore only ever see events strictly before the
user's validation item; the candidate models are fitted on the training parts ``s[:-2]`` only
(and, for training prompts, on other users' parts only).

Every prompt comes from bot's own builders (``LLMRanker.prompt``, ``next_need_messages``,
``explanation_messages``, ``describe_messages``), so what is trained is exactly what is served.
Records are JSON lines; a ``manifest.json`` holds counts per task and split, the seed and the rule.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.recsys.history import UserView
from bot.tasks.describe import describe_messages, item_facts
from bot.tasks.prompts import (
    MAX_CANDIDATES,
    MAX_HISTORY,
    SNIPPET_CHARS,
    CandidateLine,
    explanation_messages,
    next_need_messages,
    review_reply_messages,
)
from bot.tasks.ranker import LLMRanker, RankerConfig, history_lines
from knowledge.errors import ConfigError
from knowledge.schema import Event, Item

__all__ = [
    "TASKS",
    "RECOMMENDER_TASKS",
    "WRITING_TASKS",
    "READING_TASKS",
    "SPLIT_RULE",
    "DatasetConfig",
    "Corpus",
    "FusedCandidates",
    "build_examples",
    "corpus_from_store",
    "corpus_from_sequences",
    "plain_title",
    "corpus_from_beauty",
    "write_dataset",
    "read_jsonl",
    "prepare",
]

log = logging.getLogger(__name__)

RECOMMENDER_TASKS: tuple[str, ...] = ("ranking", "next_need", "explanation", "description")
# facts -> one grounded sentence; review -> shop reply (targets from finetune.writing's grammar)
WRITING_TASKS: tuple[str, ...] = ("fact_sentence", "review_reply")
# message -> request (finetune.requests: a paraphrase grammar over the catalog)
READING_TASKS: tuple[str, ...] = ("parse",)
TASKS: tuple[str, ...] = RECOMMENDER_TASKS + WRITING_TASKS + READING_TASKS
SPLIT_RULE = (
    "leave-last-out per user over the ordered purchase/review sequence s: test target s[-1] "
    "(history s[:-1]), validation target s[-2] (history s[:-2]), training targets s[t] for "
    "1 <= t < len(s)-2 (history s[:t]); candidate models fitted on s[:-2] only (for training "
    "prompts: of the users in the other folds); item descriptions split by a hash of the item id; "
    "writing tasks (fact_sentence, review_reply) split by a hash of the item id: an item and all "
    "its reviews are in exactly one split (test = held-out items); parse: grammar messages split "
    "at random (train/valid), its test set is the hand-written benchmarks/parser/heldout.yaml"
)
_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetConfig:
    """What to build. ``n_candidates`` and ``max_history`` should match the serving config."""

    tasks: tuple[str, ...] = RECOMMENDER_TASKS
    n_candidates: int = 20
    max_history: int = MAX_HISTORY  # the serving defaults, so training prompts match served ones
    snippet_chars: int = SNIPPET_CHARS
    max_prefixes_per_user: int | None = None  # keep the latest training prefixes of each user
    max_users: int | None = None  # first N users in sorted order (a deterministic subsample)
    exclude_history: bool = True  # candidates never include items the user already has
    candidate_folds: int = 5  # training candidates come from models fitted on other users
    description_valid_fraction: float = 0.05
    # writing tasks: share of items (with their reviews) held out for validation and for test
    writing_valid_fraction: float = 0.05
    writing_test_fraction: float = 0.2
    sentences_per_item: int = 2  # fact_sentence targets per training item
    reviews_per_item: int = 2  # shop reviews per training item (distinct texts)
    synthetic_per_item: int = 1  # composed safety reports/complaints per item
    parse_examples: int = 1200  # grammar messages for the parse task (train + valid)
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or bad:
            raise ConfigError(
                f"DatasetConfig.tasks must be a non-empty subset of {TASKS}, got {bad}"
            )
        if not 2 <= self.n_candidates <= MAX_CANDIDATES:
            raise ConfigError(f"DatasetConfig.n_candidates must be within 2..{MAX_CANDIDATES}")
        if not 1 <= self.max_history <= 50:
            raise ConfigError("DatasetConfig.max_history must be within 1..50")
        if self.max_prefixes_per_user is not None and self.max_prefixes_per_user < 1:
            raise ConfigError("DatasetConfig.max_prefixes_per_user must be >= 1 or None")
        if self.max_users is not None and self.max_users < 1:
            raise ConfigError("DatasetConfig.max_users must be >= 1 or None")
        if not 2 <= self.candidate_folds <= 100:
            raise ConfigError("DatasetConfig.candidate_folds must be within 2..100")
        if not 0.0 <= self.description_valid_fraction < 1.0:
            raise ConfigError("DatasetConfig.description_valid_fraction must be within [0, 1)")
        if (
            not 0.0 <= self.writing_valid_fraction + self.writing_test_fraction < 1.0
            or min(self.writing_valid_fraction, self.writing_test_fraction) < 0.0
        ):
            raise ConfigError(
                "DatasetConfig.writing_valid_fraction and writing_test_fraction must be >= 0 "
                "with a sum below 1"
            )
        if not 1 <= self.parse_examples <= 100_000:
            raise ConfigError("DatasetConfig.parse_examples must be within 1..100000")
        for name in ("sentences_per_item", "reviews_per_item", "synthetic_per_item"):
            if not 0 <= getattr(self, name) <= 20:
                raise ConfigError(f"DatasetConfig.{name} must be within 0..20")


@dataclass
class Corpus:
    """Users' ordered purchase/review events and the catalog they refer to."""

    events: dict[str, list[Event]]
    items: dict[str, Item]
    source: str = ""
    sequences: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.sequences = {u: [e.item_id for e in evs] for u, evs in self.events.items()}


def corpus_from_store(store: Any) -> Corpus:
    """Read every user's purchases/reviews (sequence order) and the catalog from a Store."""
    per_user: dict[str, list[Event]] = defaultdict(list)
    for e in store.iter_events():
        if e.kind in ("purchase", "review"):
            per_user[e.user_id].append(e)
    events = {u: sorted(v, key=lambda e: (e.timestamp, e.order)) for u, v in per_user.items()}
    items = {i.item_id: i for i in store.all_items()}
    return Corpus(events, items, source=f"store:{getattr(store.config, 'path', '')}")


def corpus_from_sequences(
    sequences: Mapping[str, Sequence[tuple[str, int]]], items: Iterable[Item], source: str = ""
) -> Corpus:
    """From plain ``user -> [(item_id, timestamp), ...]`` already in sequence order (Beauty)."""
    events = {
        u: [Event(u, i, "purchase", int(ts), order) for order, (i, ts) in enumerate(seq)]
        for u, seq in sequences.items()
    }
    return Corpus(events, {i.item_id: i for i in items}, source=source)


def beauty_items(root: str | Path) -> list[Item]:
    """The items of ``<root>/items.csv`` (the Amazon Beauty dataset folder): title (the id when
    the title is missing), brand, categories."""
    import csv

    items = []
    with open(Path(root) / "items.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            cats = tuple(c.strip() for c in row["categories"].split("|") if c.strip())
            items.append(Item(row["item_id"], row["title"] or row["item_id"], row["brand"], cats))
    return items


def corpus_from_beauty(data_dir: str | Path) -> Corpus:
    """Amazon Beauty (``<data_dir>/amazon-beauty``): sequences in file row order, never re-sorted
    by timestamp (day-level ties are ordered by the file, as in the standard P5/S3-Rec split)."""
    import csv

    root = Path(data_dir) / "amazon-beauty"
    if not (root / "interactions.csv").is_file():
        raise ConfigError(
            f"{root}/interactions.csv not found; set NEXTNEED_DATA_DIR or pass --data-dir"
        )
    items = beauty_items(root)
    seqs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with open(root / "interactions.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            seqs[row["user_id"]].append((row["item_id"], int(row["timestamp"])))
    return corpus_from_sequences(seqs, items, source=f"amazon-beauty:{root}")


class FusedCandidates:
    """The serving pipeline's history-driven candidate stage: transitions, co-occurrence and
    popularity fused with the same weights and rank discount as ``bot.recsys.pipeline``."""

    def __init__(self, weights: Sequence[tuple[str, float]] | None = None) -> None:
        from bot.recsys.sources.candidates import CoOccurrence, Popularity, Transitions

        makers = {
            "transitions": Transitions,
            "co-occurrence": CoOccurrence,
            "popularity": Popularity,
        }
        weights = weights or (("transitions", 1.0), ("co-occurrence", 0.6), ("popularity", 0.15))
        self.sources = [(makers[name](), w) for name, w in weights]

    def fit(self, sequences: Sequence[Sequence[str]]) -> None:
        for src, _w in self.sources:
            src.fit(sequences)

    def candidates(
        self, history: Sequence[str], k: int, exclude: set[str]
    ) -> list[tuple[str, float]]:
        scores: dict[str, float] = defaultdict(float)
        for src, w in self.sources:
            for rank, (item_id, _s) in enumerate(src.candidates(history, k * 3, exclude)):
                scores[item_id] += w / (rank + 10)
        ranked = sorted(scores.items(), key=lambda x: (-x[1], x[0]))
        return ranked[:k]


def _seeded(seed: int, *parts: object) -> random.Random:
    key = "\x1f".join(str(p) for p in (seed, *parts))
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))


def _need_phrase(item: Item) -> str:
    """A short phrase for the need an item meets: its leaf category, else its first title words."""
    text = item.category or " ".join(html.unescape(item.title).split()[:4])
    return " ".join(text.lower().split()[:5])


def _first_sentence(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", text)
    sentence = text[: match.start()] if match else text
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "\u2026"


def plain_title(item: Item) -> Item:
    """Amazon titles keep HTML escapes (&amp;); the model should see plain text."""
    if "&" not in item.title:
        return item
    return Item(
        item.item_id,
        html.unescape(item.title),
        item.brand,
        item.categories,
        item.price,
        item.description,
        item.attributes,
    )


class _Builder:
    def __init__(self, corpus: Corpus, config: DatasetConfig) -> None:
        self.c = corpus
        self.cfg = config
        self.items = {k: plain_title(v) for k, v in corpus.items.items()}
        self.ranker = LLMRanker(None, RankerConfig(config.max_history, config.snippet_chars))

    def _view(self, user: str, history: list[Event]) -> UserView:
        # "now" is the moment of the last known event: nothing about the target's date leaks.
        now = history[-1].timestamp if history else 0
        return UserView(user, list(history), now=now)

    def ranking(
        self, user: str, history: list[Event], target: str, split: str, stage: FusedCandidates
    ) -> dict[str, Any] | None:
        seq = [e.item_id for e in history]
        exclude = set(seq) if self.cfg.exclude_history else set()
        cands = [
            i for i, _s in stage.candidates(seq, self.cfg.n_candidates, exclude) if i in self.items
        ]
        inserted = False
        if target not in cands and split != "test" and target in self.items:
            # Training/validation need the answer among the choices; the test split keeps
            # full-ranking semantics (a target the candidate stage missed is a miss).
            if len(cands) >= self.cfg.n_candidates:
                cands = cands[: self.cfg.n_candidates - 1]
            pos = _seeded(self.cfg.seed, "insert", user, len(seq)).randint(0, len(cands))
            cands.insert(pos, target)
            inserted = True
        if len(cands) < 2:
            return None
        view = self._view(user, history)
        prompt, labels = self.ranker.prompt(view, [self.items[i] for i in cands], self.items)
        label = labels[cands.index(target)] if target in cands else None
        return {
            "task": "ranking",
            "prompt": prompt,
            "target": label,
            "labels": labels,
            "candidates": cands,
            "inserted": inserted,
        }

    def chat(self, task: str, user: str, history: list[Event], nxt: Event) -> dict[str, Any] | None:
        item = self.items.get(nxt.item_id)
        if item is None:
            return None
        lines = history_lines(self._view(user, history), self.items, self.cfg.max_history)
        if task == "next_need":
            target = _need_phrase(item)
            messages = next_need_messages(lines)
        elif task == "explanation":
            if nxt.kind != "review" or not nxt.text.strip():
                return None
            target = _first_sentence(nxt.text)
            cand = CandidateLine(item.title, item.brand, item.category, item.price)
            messages = explanation_messages(lines, cand)
        else:
            raise ValueError(task)
        return {"task": task, "messages": messages, "target": target} if target else None


def _fold(user: str, seed: int, folds: int) -> int:
    return int(hashlib.sha256(f"{seed}:{user}".encode()).hexdigest()[:8], 16) % folds


def _user_rows(
    b: _Builder, user: str, events: list[Event], stages: tuple[FusedCandidates, FusedCandidates]
) -> Iterable[tuple[str, dict[str, Any]]]:
    n = len(events)
    if n < 3:
        return
    train_t = list(range(1, n - 2))
    if b.cfg.max_prefixes_per_user is not None:
        train_t = train_t[-b.cfg.max_prefixes_per_user :]
    plan = [("train", t) for t in train_t] + [("valid", n - 2), ("test", n - 1)]
    for split, t in plan:
        history, nxt = events[:t], events[t]
        base = {
            "split": split,
            "user_id": user,
            "position": t,
            "target_item": nxt.item_id,
            "history_items": [e.item_id for e in history],
        }
        for task in b.cfg.tasks:
            row: dict[str, Any] | None = None
            if task == "ranking":
                stage = stages[0] if split == "train" else stages[1]
                row = b.ranking(user, history, nxt.item_id, split, stage)
            elif task in ("next_need", "explanation"):
                row = b.chat(task, user, history, nxt)
            if row is not None:
                yield split, {**base, **row}


def _description_rows(b: _Builder) -> Iterable[tuple[str, dict[str, Any]]]:
    for item_id in sorted(b.items):
        item = b.items[item_id]
        if not item.description.strip():
            continue
        h = int(hashlib.sha256(f"{b.cfg.seed}:{item_id}".encode()).hexdigest()[:8], 16)
        split = "valid" if h / 0xFFFFFFFF < b.cfg.description_valid_fraction else "train"
        yield (
            split,
            {
                "split": split,
                "task": "description",
                "item_id": item_id,
                "messages": describe_messages(item_facts(item)),
                "target": " ".join(item.description.split()),
            },
        )


def writing_split(item_id: str, config: DatasetConfig) -> str:
    """The split of an item and its reviews in the writing tasks (hash of the item id)."""
    h = int(hashlib.sha256(f"{config.seed}:writing:{item_id}".encode()).hexdigest()[:8], 16)
    u = h / 0xFFFFFFFF
    if u < config.writing_test_fraction:
        return "test"
    return "valid" if u < config.writing_test_fraction + config.writing_valid_fraction else "train"


def item_ratings(corpus: Corpus) -> dict[str, tuple[float, int]]:
    """Mean rating and count of rated reviews per item (what the store's stats give)."""
    ratings: dict[str, list[float]] = defaultdict(list)
    for evs in corpus.events.values():
        for e in evs:
            if e.kind == "review" and e.rating is not None:
                ratings[e.item_id].append(float(e.rating))
    return {i: (sum(r) / len(r), len(r)) for i, r in ratings.items()}


def _writing_rows(b: _Builder) -> Iterable[tuple[str, dict[str, Any]]]:
    from finetune.writing import fact_sentences, reply_target, synthetic_reviews

    cfg = b.cfg
    ratings = item_ratings(b.c)
    reviews: dict[str, list[Event]] = defaultdict(list)
    for user in sorted(b.c.events):
        for e in b.c.events[user]:
            if e.kind == "review" and e.text.strip():
                reviews[e.item_id].append(e)
    for item_id in sorted(b.items):
        item = b.items[item_id]
        split = writing_split(item_id, cfg)
        base = {"split": split, "item_id": item_id}
        if "fact_sentence" in cfg.tasks:
            rating = ratings.get(item_id)
            facts = item_facts(item, rating)
            n = cfg.sentences_per_item if split == "train" else 1
            rng = _seeded(cfg.seed, "fact_sentence", item_id)
            for target in fact_sentences(item, facts, rating, rng, n):
                yield (
                    split,
                    {
                        **base,
                        "task": "fact_sentence",
                        "facts": facts,
                        "messages": describe_messages(facts),
                        "target": target,
                    },
                )
        if "review_reply" not in cfg.tasks:
            continue
        rng = _seeded(cfg.seed, "review_reply", item_id)
        seen: set[str] = set()
        shop = []
        for e in reviews.get(item_id, []):
            text = " ".join(e.text.split())
            if text not in seen:
                seen.add(text)
                shop.append((text, e.rating, "", "", ""))
        rng.shuffle(shop)
        picked = shop[: cfg.reviews_per_item] + [
            (r.text, r.rating, r.kind, r.who, r.what)
            for r in synthetic_reviews(item, rng, cfg.synthetic_per_item)
        ]
        for text, stars, kind, who, what in picked:
            target = reply_target(text, stars, item.title, rng, kind or None, who, what)
            yield (
                split,
                {
                    **base,
                    "task": "review_reply",
                    "review": text,
                    "rating": stars,
                    "kind": kind or None,
                    "synthetic": bool(kind),
                    "messages": review_reply_messages(text, stars, item.title),
                    "target": target,
                },
            )


def build_examples(corpus: Corpus, config: DatasetConfig) -> dict[str, list[dict[str, Any]]]:
    """All examples, per split, in a deterministic order (users sorted, then position)."""
    b = _Builder(corpus, config)
    users = sorted(u for u, evs in corpus.events.items() if len(evs) >= 3)
    if config.max_users is not None:
        users = users[: config.max_users]
    # Candidate models only ever see training parts s[:-2]: validation and test items never
    # inform them. Validation/test prompts use one fitted on every user (as serving does).
    # Training prompts use one fitted on the OTHER folds' users: fitted on the user's own
    # training part, it would have learnt the very transition each prefix must predict (the
    # target was then always among the candidates, ranked near the top; never so at test time).
    parts = {u: seq[:-2] for u, seq in corpus.sequences.items() if len(seq) >= 3}
    k = config.candidate_folds
    fold_of = {u: _fold(u, config.seed, k) for u in parts}
    full = FusedCandidates()
    full.fit(list(parts.values()))
    folds: dict[int, FusedCandidates] = {}
    if "ranking" in config.tasks:
        for f in sorted({fold_of[u] for u in users}):
            folds[f] = FusedCandidates()
            folds[f].fit([seq for u, seq in parts.items() if fold_of[u] != f])
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in _SPLITS}
    for user in tqdm(users, desc="examples", unit="user", mininterval=2.0):
        stages = (folds.get(fold_of[user], full), full)
        for split, row in _user_rows(b, user, corpus.events[user], stages):
            out[split].append(row)
    if "description" in config.tasks:
        for split, row in _description_rows(b):
            out[split].append(row)
    if set(WRITING_TASKS) & set(config.tasks):
        for split, row in _writing_rows(b):
            out[split].append(row)
    if "parse" in config.tasks:
        from finetune.requests import parse_examples

        for row in parse_examples(b.items.values(), config.parse_examples, config.seed):
            out[row["split"]].append(row)
    return out


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_dataset(
    examples: dict[str, list[dict[str, Any]]],
    out_dir: str | Path,
    config: DatasetConfig,
    source: str,
) -> dict[str, Any]:
    """Write ``train/valid/test.jsonl`` and ``manifest.json``; returns the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    digests: dict[str, str] = {}
    for split, rows in examples.items():
        path = out / f"{split}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        counts[split] = dict(sorted(Counter(r["task"] for r in rows).items()))
        digests[split] = hashlib.sha256(path.read_bytes()).hexdigest()
    test_rank = [r for r in examples.get("test", []) if r["task"] == "ranking"]
    manifest = {
        "source": source,
        "seed": config.seed,
        "split_rule": SPLIT_RULE,
        "config": asdict(config),
        "counts": counts,
        "users": len({r["user_id"] for rows in examples.values() for r in rows if "user_id" in r}),
        "test_candidate_recall": (
            sum(r["target"] is not None for r in test_rank) / len(test_rank) if test_rank else None
        ),
        "sha256": digests,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log.info("dataset written to %s: %s", out, counts)
    return manifest


def prepare(corpus: Corpus, out_dir: str | Path, config: DatasetConfig) -> dict[str, Any]:
    """Build and write a dataset in one call (what ``python -m finetune prepare`` runs)."""
    return write_dataset(build_examples(corpus, config), out_dir, config, corpus.source)
