"""A compact SASRec (Kang & McAuley, 2018) trained with softmax cross-entropy.

Cross-entropy at every position of every training sequence is the strong modern variant
("SASRec+", Klenitskiy & Vasilev, RecSys 2023), clearly better than the original one-negative
BCE loss. Over a large catalogue the softmax is sampled: the target against a few thousand
items drawn by popularity, each logit corrected by its log sampling probability (sampled
softmax with logQ correction, Bengio & Senecal 2008; Yi et al., RecSys 2019). With batches of
like-length sequences this trains ~5x faster per epoch on a CPU than the full softmax over
random batches, and reached a higher validation NDCG@10 on Amazon Beauty in less time
(benchmarks/README.md, "SASRec on a CPU").

Written by hand rather than taken from RecBole: RecBole 1.2.1 accepts torch 2.13 but pulls
ray<=2.6.3, tensorboard, thop and exact colorlog/colorama pins, and its trainer calls
``torch.load`` on checkpoints without ``weights_only=False`` (the default changed in torch
2.6). The model is ~120 lines of plain PyTorch.

Sequences are right-padded so causal attention never sees padding; positions count back from
the most recent item, as left-padded SASRec does, so "the last item" has one embedding.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.recsys.metrics import mean_ndcg
from knowledge.errors import ConfigError, ModelNotFoundError

__all__ = ["SASRecConfig", "SASRecEnsemble", "SASRecModel", "refit_sasrec", "train_sasrec"]

log = logging.getLogger(__name__)


@dataclass
class SASRecConfig:
    """Model size, optimisation and early stopping for :func:`train_sasrec`."""

    max_len: int = 50
    hidden: int = 64
    n_blocks: int = 2
    n_heads: int = 1
    dropout: float = 0.3
    lr: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping
    valid_users: int | None = 5000  # seeded sample for early stopping; None = all
    time_budget_s: float | None = None  # stop after the epoch that crosses this
    seed: int = 0
    num_threads: int | None = None  # torch threads; None leaves torch's default
    progress: bool = False
    # Softmax over the whole catalogue (None) or over the target and this many items drawn per
    # batch by (training count + 1) ** negative_power (0: uniformly), logQ-corrected; the draw
    # is shared by every position of the batch and a drawn target is masked.
    negatives: int | None = None
    negative_power: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_len", "hidden", "n_blocks", "n_heads", "batch_size", "max_epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SASRecConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden % self.n_heads:
            raise ConfigError(
                f"SASRecConfig.hidden ({self.hidden}) must be divisible by n_heads ({self.n_heads})"
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"SASRecConfig.dropout must be in [0, 1), got {self.dropout}")
        if not self.lr > 0:
            raise ConfigError(f"SASRecConfig.lr must be > 0, got {self.lr}")
        if self.patience < 1:
            raise ConfigError(f"SASRecConfig.patience must be >= 1, got {self.patience}")
        if self.valid_users is not None and self.valid_users < 1:
            raise ConfigError("SASRecConfig.valid_users must be >= 1 or None")
        if self.negatives is not None and self.negatives < 1:
            raise ConfigError(f"SASRecConfig.negatives must be >= 1 or None, got {self.negatives}")
        if not 0 <= self.negative_power <= 1:
            raise ConfigError(
                f"SASRecConfig.negative_power must be in [0, 1], got {self.negative_power}"
            )


def _net(n_items: int, cfg: SASRecConfig) -> Any:
    import torch
    from torch import nn

    class SASRecNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, cfg.hidden, padding_idx=0)
            self.positions = nn.Embedding(cfg.max_len, cfg.hidden)
            self.dropout = nn.Dropout(cfg.dropout)
            layer = nn.TransformerEncoderLayer(
                cfg.hidden, cfg.n_heads, cfg.hidden * 2, cfg.dropout, batch_first=True,
                norm_first=True,
            )  # fmt: skip
            self.encoder = nn.TransformerEncoder(
                layer, cfg.n_blocks, norm=nn.LayerNorm(cfg.hidden), enable_nested_tensor=False
            )
            # Small init (as RecBole / BERT): with the tied output layer, N(0, 1) embeddings
            # start the softmax at a loss of ~30 instead of ln(n_items) and train far slower.
            for emb in (self.items, self.positions):
                nn.init.normal_(emb.weight, std=0.02)
            with torch.no_grad():
                self.items.weight[0].zero_()

        def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            """Hidden states [B, L, H] for right-padded ids [B, L]."""
            L = ids.shape[1]
            pos = (lengths[:, None] - 1 - torch.arange(L)[None, :]).clamp(min=0)
            x = self.items(ids) + self.positions(pos)
            mask = nn.Transformer.generate_square_subsequent_mask(L)
            return self.encoder(self.dropout(x), mask=mask, is_causal=True)

        def item_logits(self, h: torch.Tensor) -> torch.Tensor:
            # Tied output layer; column j is item j+1 (0 is padding and never a target).
            return h @ self.items.weight[1:].T

    return SASRecNet()


class _TopK:
    """``recommend`` over ``scores``: shared by one SASRec and an ensemble of them."""

    item_ids: list[str]
    index: dict[str, int]

    def scores(self, histories: Sequence[Sequence[str]]) -> np.ndarray:
        raise NotImplementedError

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int, excludes: Sequence[set[str]]
    ) -> list[list[tuple[str, float]]]:
        """Top ``k`` ``(item, score)`` per user, never an item of the matching exclude set."""
        result = []
        for s in range(0, len(histories), 512):
            sc = self.scores(histories[s : s + 512])
            for row, exclude in zip(sc, excludes[s : s + 512], strict=True):
                for item in exclude:
                    if item in self.index:
                        row[self.index[item] - 1] = -np.inf
                kk = min(k, row.size)
                top = np.argpartition(-row, kk - 1)[:kk]
                top = top[np.argsort(-row[top], kind="stable")]
                result.append([(self.item_ids[j], float(row[j])) for j in top if row[j] > -np.inf])
        return result


class SASRecModel(_TopK):
    """A trained SASRec with its item index; scores whole catalogues for batches of users."""

    def __init__(self, net: Any, item_ids: Sequence[str], config: SASRecConfig) -> None:
        self.net = net
        self.item_ids = list(item_ids)
        self.index = {i: n + 1 for n, i in enumerate(self.item_ids)}  # 0 = padding
        self.config = config
        self.log: list[dict[str, float]] = []  # per-epoch loss, seconds, valid NDCG@10

    def _batch(self, seqs: Sequence[Sequence[str]]) -> tuple[Any, Any]:
        import torch

        rows = [[self.index[i] for i in s if i in self.index][-self.config.max_len :] for s in seqs]
        lengths = torch.tensor([max(len(r), 1) for r in rows])
        ids = torch.zeros((len(rows), int(lengths.max())), dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, : len(r)] = torch.tensor(r, dtype=torch.long)
        return ids, lengths

    def scores(self, histories: Sequence[Sequence[str]]) -> np.ndarray:
        """Next-item scores [users, catalogue] (columns in ``item_ids`` order)."""
        import torch

        self.net.eval()
        out = []
        with torch.inference_mode():
            for s in range(0, len(histories), 512):
                ids, lengths = self._batch(histories[s : s + 512])
                h = self.net(ids, lengths)[torch.arange(len(ids)), lengths - 1]
                out.append(self.net.item_logits(h).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.item_ids)), np.float32)

    def save(self, path: str | Path) -> Path:
        """Write ``model.pt`` (state dict), ``items.json`` and ``config.json`` into ``path``."""
        import torch

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), path / "model.pt")
        (path / "items.json").write_text(json.dumps(self.item_ids))
        (path / "config.json").write_text(json.dumps({**asdict(self.config), "log": self.log}))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SASRecModel:
        import torch

        path = Path(path)
        if not (path / "model.pt").is_file():
            raise ModelNotFoundError(f"no SASRec model at {path} (expected model.pt, items.json)")
        raw = json.loads((path / "config.json").read_text())
        history = raw.pop("log", [])
        cfg = SASRecConfig(**raw)
        item_ids = json.loads((path / "items.json").read_text())
        net = _net(len(item_ids), cfg)
        net.load_state_dict(torch.load(path / "model.pt", weights_only=True))
        model = cls(net, item_ids, cfg)
        model.log = history
        return model


class SASRecEnsemble(_TopK):
    """SASRecs trained alike from different seeds, scored as one: the mean of their logits.

    Each member's logits are its log-softmax plus a per-user constant, so the mean ranks items
    as the mean log-probability does (a geometric mean of the members' next-item
    distributions). Independent seeds make different mistakes; averaging them is the cheapest
    variance reduction there is for a model trained from random initialisations."""

    def __init__(self, members: Sequence[SASRecModel]) -> None:
        if not members:
            raise ConfigError("SASRecEnsemble needs at least one trained SASRec")
        first = members[0]
        for m in members[1:]:
            if m.item_ids != first.item_ids:
                raise ConfigError("SASRecEnsemble members must share one item catalogue")
        self.members = list(members)
        self.item_ids, self.index, self.config = first.item_ids, first.index, first.config

    @property
    def log(self) -> list[dict[str, float]]:
        """Every member's training log, each entry tagged with its member's number."""
        return [{**e, "member": n} for n, m in enumerate(self.members) for e in m.log]

    def scores(self, histories: Sequence[Sequence[str]]) -> np.ndarray:
        """Mean next-item logits of the members [users, catalogue]."""
        total = self.members[0].scores(histories)
        for m in self.members[1:]:
            total += m.scores(histories)
        return total / len(self.members)

    def save(self, path: str | Path) -> Path:
        """Each member in ``path/member-<n>`` (:meth:`SASRecModel.save`)."""
        path = Path(path)
        for n, m in enumerate(self.members):
            m.save(path / f"member-{n}")
        return path

    @classmethod
    def load(cls, path: str | Path) -> SASRecEnsemble:
        path = Path(path)
        folders = sorted(path.glob("member-*"), key=lambda f: int(f.name.split("-")[1]))
        if not folders:
            raise ModelNotFoundError(f"no SASRec ensemble at {path} (expected member-0/ ...)")
        return cls([SASRecModel.load(f) for f in folders])


def _valid_ndcg10(
    model: SASRecModel, histories: Sequence[Sequence[str]], targets: Sequence[str]
) -> float:
    excludes = [set(h) for h in histories]  # history excluded, as the product ranks
    top = model.recommend(histories, 10, excludes)
    return mean_ndcg([[i for i, _s in row] for row in top], targets, 10)


def _length_batches(lengths: np.ndarray, size: int, rng: np.random.Generator) -> list[Any]:
    """A shuffled epoch in batches of similar length holding about as many training positions
    as ``size`` sequences of the average length: sequences shuffled, stably sorted by length,
    cut where a batch's positions reach that budget, batches shuffled. Short sequences (most
    of a shop's customers) no longer pad to the longest of a random batch, and every optimiser
    step still sees a like number of positions (about 5x less work on Amazon Beauty)."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    budget = max(1.0, size * float(np.mean(lengths - 1)))
    batches, start, used = [], 0, 0.0
    for n, j in enumerate(order):
        used += float(lengths[j] - 1)
        if used >= budget:
            batches.append(order[start : n + 1])
            start, used = n + 1, 0.0
    if start < len(order):
        batches.append(order[start:])
    return [batches[i] for i in rng.permutation(len(batches))]


def _loss(net: Any, h: Any, labels: Any, negatives: int | None, log_q: Any, gen: Any) -> Any:
    """Cross-entropy of each position's target (``labels``: 1-based item ids) against the
    whole catalogue, or a sampled softmax: the target and ``negatives`` items drawn for the
    batch from ``exp(log_q)`` (shared by every position; a drawn target is masked), every
    logit corrected by its item's log sampling probability (logQ) so the estimate stays
    unbiased toward the full softmax."""
    import torch
    from torch.nn.functional import cross_entropy

    n_items = log_q.shape[0]
    if negatives is None or negatives >= n_items:
        return cross_entropy(net.item_logits(h), labels - 1)
    drawn = torch.multinomial(log_q.exp(), negatives, replacement=True, generator=gen) + 1
    pos = (h * net.items(labels)).sum(-1, keepdim=True) - log_q[labels - 1][:, None]
    neg = h @ net.items(drawn).T - log_q[drawn - 1][None, :]
    neg = neg.masked_fill(drawn[None, :] == labels[:, None], float("-inf"))
    return cross_entropy(torch.cat([pos, neg], 1), torch.zeros(len(labels), dtype=torch.long))


def _index_sequences(model: SASRecModel, sequences: Sequence[Sequence[str]]) -> list[list[int]]:
    """Catalogue indices of each sequence's last ``max_len + 1`` known items (>= 2 of them)."""
    idx, keep = model.index, model.config.max_len + 1
    seqs = [[idx[i] for i in s if i in idx][-keep:] for s in sequences]
    return [s for s in seqs if len(s) >= 2]


def _log_q(seqs: Sequence[Sequence[int]], n_items: int, power: float) -> Any:
    """Log sampling probability of each item for the sampled softmax: (count + 1) ** power."""
    import torch

    counts = np.bincount([i for s in seqs for i in s[1:]], minlength=n_items + 1)[1:]
    weights = (counts.astype(np.float64) + 1.0) ** power
    return torch.tensor(np.log(weights / weights.sum()), dtype=torch.float32)


def _epoch(
    model: SASRecModel, opt: Any, seqs: Sequence[Sequence[int]], lengths: np.ndarray,
    rng: np.random.Generator, gen: Any, log_q: Any, desc: str,
) -> float:  # fmt: skip
    """One shuffled pass over ``seqs`` (every position predicts the next); mean batch loss."""
    import torch

    cfg = model.config
    model.net.train()
    batches: Any = _length_batches(lengths, cfg.batch_size, rng)
    if cfg.progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=desc, leave=False)
    total, n_batches = 0.0, 0
    for rows in batches:
        chunk = [seqs[j] for j in rows]
        L = max(len(c) for c in chunk) - 1
        ids = torch.zeros((len(chunk), L), dtype=torch.long)
        labels = torch.zeros((len(chunk), L), dtype=torch.long)
        for b, c in enumerate(chunk):
            ids[b, : len(c) - 1] = torch.tensor(c[:-1])
            labels[b, : len(c) - 1] = torch.tensor(c[1:])
        lengths_t = torch.tensor([len(c) - 1 for c in chunk])
        h = model.net(ids, lengths_t)
        real = labels > 0
        # Only real positions reach the softmax: padding would cost 5x here.
        loss = _loss(model.net, h[real], labels[real], cfg.negatives, log_q, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, n_batches = total + loss.item(), n_batches + 1
    model.net.eval()
    return total / max(n_batches, 1)


def train_sasrec(
    train_sequences: Sequence[Sequence[str]],
    valid_targets: Sequence[str | None],
    catalogue: Sequence[str],
    config: SASRecConfig | None = None,
) -> SASRecModel:
    """Train on every position of ``train_sequences``; early-stop on validation NDCG@10.

    ``valid_targets[u]`` is the item that follows ``train_sequences[u]`` (None: not used).
    ``catalogue`` is every rankable item id (n_items = its length). Returns the best epoch.
    """
    import torch

    cfg = config or SASRecConfig()
    if len(valid_targets) != len(train_sequences):
        raise ConfigError("valid_targets must align with train_sequences (one per user)")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = SASRecModel(_net(len(catalogue), cfg), catalogue, cfg)
    idx = model.index
    # Each sequence trains every position: inputs s[:-1] predict labels s[1:].
    seqs = _index_sequences(model, train_sequences)
    lengths_all = np.array([len(s) for s in seqs])
    valid = [(h, t) for h, t in zip(train_sequences, valid_targets, strict=True) if t in idx]
    if cfg.valid_users is not None and len(valid) > cfg.valid_users:
        valid = [valid[i] for i in sorted(rng.choice(len(valid), cfg.valid_users, replace=False))]
    v_hist, v_target = [h for h, _t in valid], [t for _h, t in valid if t is not None]
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    log_q = _log_q(seqs, len(catalogue), cfg.negative_power)
    best, best_state, bad, start = -1.0, None, 0, time.perf_counter()
    log.info(
        "SASRec: %d training sequences, %d items, %d valid users",
        len(seqs),
        len(catalogue),
        len(valid),
    )
    for epoch in range(1, cfg.max_epochs + 1):
        t0 = time.perf_counter()
        loss = _epoch(model, opt, seqs, lengths_all, rng, gen, log_q, f"epoch {epoch}")
        train_s = time.perf_counter() - t0
        ndcg = _valid_ndcg10(model, v_hist, v_target) if v_target else 0.0
        model.log.append(
            {"epoch": epoch, "loss": loss, "train_s": train_s,
             "epoch_s": time.perf_counter() - t0, "valid_ndcg@10": ndcg}
        )  # fmt: skip
        log.info(
            "SASRec epoch %d: loss %.4f, %.1fs, valid NDCG@10 %.4f", epoch, loss, train_s, ndcg
        )
        if ndcg > best:
            best, bad = ndcg, 0
            best_state = {k: v.clone() for k, v in model.net.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
        if cfg.time_budget_s is not None and time.perf_counter() - start > cfg.time_budget_s:
            log.info("SASRec: time budget %.0fs reached after epoch %d", cfg.time_budget_s, epoch)
            break
    if best_state is not None:
        model.net.load_state_dict(best_state)
    model.net.eval()
    return model


def refit_sasrec(
    model: SASRecModel, sequences: Sequence[Sequence[str]], epochs: int, seed: int | None = None
) -> SASRecModel:
    """Continue training ``model`` in place for ``epochs`` passes over ``sequences`` (each
    user's every event, the items that chose the epoch included), from its early-stopped
    weights with a fresh optimiser at the same learning rate.

    Early stopping holds back each user's last item; this shows the model those most recent
    transitions, as the count sources' serving fit does. Nothing is left to validate it on, so
    the number of epochs is a setting, chosen on an inner split
    (``python -m benchmarks.sasrec_cpu --refit-check``). Each pass is logged with
    ``"refit": 1``."""
    import torch

    if epochs < 1:
        return model
    cfg = model.config
    rng = np.random.default_rng(cfg.seed + 1 if seed is None else seed)
    gen = torch.Generator().manual_seed(cfg.seed + 1 if seed is None else seed)
    seqs = _index_sequences(model, sequences)
    lengths = np.array([len(s) for s in seqs])
    log_q = _log_q(seqs, len(model.item_ids), cfg.negative_power)
    opt = torch.optim.Adam(model.net.parameters(), lr=cfg.lr)
    for n in range(1, epochs + 1):
        t0 = time.perf_counter()
        loss = _epoch(model, opt, seqs, lengths, rng, gen, log_q, f"refit {n}")
        model.log.append({"epoch": len(model.log) + 1, "loss": loss, "refit": 1,
                          "train_s": time.perf_counter() - t0})  # fmt: skip
        log.info("SASRec refit pass %d: loss %.4f, %.1fs", n, loss, time.perf_counter() - t0)
    return model
