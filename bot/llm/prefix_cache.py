"""Key/value tensors of prompt prefixes, kept in a bounded LRU so a prefix is read once.

The ranking prompt starts with the same instruction text for every request and, within one
conversation, the same customer history on every turn (:class:`bot.tasks.prompts.RankingPrompt`
marks where those parts end). :func:`prefill` runs a prompt through the model in chunks cut
at those marks and keeps the key/values of each prefix, keyed by its exact token ids; a later
prompt with the same prefix starts from them and computes only the rest.

The chunks are the same whether or not a prefix was cached, so scores never depend on what
was asked before (a hit returns the very tensors a miss computes, and the remaining chunks run
with the same shapes). Written by hand because transformers' own prefix reuse
(``past_key_values`` passed to ``generate``) has no cache policy and no memory bound.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import ConfigError

__all__ = ["PrefixCache", "CacheStats", "token_cuts", "prefill"]

log = logging.getLogger(__name__)

# One cached prefix: (keys, values) per layer, each [batch=1, kv_heads, tokens, head_dim].
LayerKV = tuple[Any, Any]


@dataclass
class CacheStats:
    """Counters since the cache was made (or last cleared)."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: int = 0
    bytes: int = 0


class PrefixCache:
    """A least-recently-used map from prefix token ids to their key/value tensors, bounded by
    the total bytes of those tensors. ``max_bytes`` 0 keeps nothing (every prompt is computed
    in full, still in the same chunks)."""

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ConfigError(f"PrefixCache max_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._entries: OrderedDict[tuple[int, ...], tuple[list[LayerKV], int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, ids: tuple[int, ...]) -> list[LayerKV] | None:
        """The key/values for exactly these prefix token ids, or None."""
        with self._lock:
            hit = self._entries.get(ids)
            if hit is None:
                self.stats.misses += 1
                return None
            self._entries.move_to_end(ids)
            self.stats.hits += 1
            return hit[0]

    def put(self, ids: tuple[int, ...], layers: list[LayerKV]) -> None:
        """Keep ``layers`` for ``ids``, evicting the least recently used entries to fit."""
        size = sum(
            int(k.numel() * k.element_size() + v.numel() * v.element_size()) for k, v in layers
        )
        if size > self.max_bytes:
            return  # bigger than the whole budget (or caching is off)
        with self._lock:
            old = self._entries.pop(ids, None)
            if old is not None:
                self.stats.bytes -= old[1]
            while self._entries and self.stats.bytes + size > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.stats.bytes -= freed
                self.stats.evictions += 1
            self._entries[ids] = (layers, size)
            self.stats.bytes += size
            self.stats.entries = len(self._entries)

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._entries.clear()
            self.stats = CacheStats()


def token_cuts(offsets: Sequence[tuple[int, int]], breaks: Sequence[int]) -> list[int]:
    """Token positions where the prompt is cut: for each character offset in ``breaks``, the
    number of leading tokens that end at or before it (a token spanning a break stays in the
    later chunk). Positions are increasing, within 1..len-1 (the last chunk is never empty)."""
    n = len(offsets)
    cuts: list[int] = []
    for b in sorted(set(breaks)):
        k = 0
        while k < n and offsets[k][1] <= b:
            k += 1
        if 0 < k < n and (not cuts or k > cuts[-1]):
            cuts.append(k)
    return cuts


def _layers(cache: Any) -> list[LayerKV]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _restore(layers: list[LayerKV], config: Any) -> Any:
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    for i, (k, v) in enumerate(layers):
        # The first update of an empty layer keeps these tensors as they are; the next forward
        # concatenates into new ones, so the cached tensors are never written to.
        cache.update(k, v, i)
    return cache


def prefill(model: Any, input_ids: Sequence[int], cuts: Sequence[int], cache: PrefixCache) -> Any:
    """The next-token logits after ``input_ids`` (a 1-D float tensor), computed chunk by chunk
    at ``cuts``, starting from the longest prefix ``cache`` holds and caching the others.
    Call under ``torch.inference_mode()`` and the model's lock."""
    import torch

    ids = list(input_ids)
    start, past = 0, None
    for cut in reversed(cuts):
        layers = cache.get(tuple(ids[:cut]))
        if layers is not None:
            start, past = cut, _restore(layers, model.config)
            break
    logits = None
    for end in [c for c in cuts if c > start] + [len(ids)]:
        chunk = torch.tensor([ids[start:end]], dtype=torch.long, device=model.device)
        out = model(input_ids=chunk, past_key_values=past, use_cache=True, logits_to_keep=1)
        past, logits = out.past_key_values, out.logits
        if end < len(ids):
            cache.put(tuple(ids[:end]), _layers(past))
        start = end
    assert logits is not None
    return logits[0, -1]
