"""How much one caller may ask of the server: a fair gate, a token bucket, a login throttle.

- :class:`Gate` bounds the assistant calls running at once (shared by the HTTP API and the web
  UI). Waiting callers are served fairly: when a slot frees, it goes to the waiter whose caller
  has the fewest calls running (earliest arrival first among equals), and each caller may have
  only a few calls waiting. One key running 16 loops used to take every slot from a
  first-come queue, so other customers got 503 ``busy``; now they wait at most about one turn.
- :class:`RateLimiter` is a token bucket per caller (API key, else client address): a steady
  rate with a burst allowance; beyond it a request is answered 429 with ``Retry-After``.
- :class:`FailureThrottle` counts failed logins and wrong API keys per client address; after
  ``max_failures`` within ``window_s`` further attempts are refused (429) until the window
  has passed, so passwords and keys cannot be guessed at thousands a second.

Written by hand (a few dozen lines each) because the well-known limiter packages key on routes
and decorators, not on the caller the server has resolved, and none offers a fair gate.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator

from bot.errors import BusyError
from knowledge.errors import NextNeedError

__all__ = ["Gate", "RateLimiter", "FailureThrottle", "TooManyRequestsError"]


class TooManyRequestsError(NextNeedError):
    """A caller asked too often (HTTP 429); ``retry_after`` says when to try again."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class Gate:
    """A bounded number of assistant calls at once, handed out fairly between callers."""

    def __init__(self, capacity: int, wait_s: float, max_waiting_per_caller: int = 4) -> None:
        self.capacity = capacity
        self.wait_s = wait_s
        self.max_waiting = max_waiting_per_caller
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: list[tuple[int, str]] = []
        self._waiting_by: Counter[str] = Counter()
        self._running_by: Counter[str] = Counter()
        self.running = 0

    def _next(self) -> int:
        ticket, _ = min(self._waiting, key=lambda tw: (self._running_by[tw[1]], tw[0]))
        return ticket

    def acquire(self, who: str = "") -> None:
        """Take a slot for caller ``who``; BusyError after ``wait_s``, TooManyRequestsError
        when ``who`` already has ``max_waiting_per_caller`` calls waiting."""
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            if self._waiting_by[who] >= self.max_waiting:
                raise TooManyRequestsError(
                    f"you already have {self.max_waiting} requests waiting; wait for an answer "
                    "before sending more",
                    retry_after=2,
                )
            ticket = next(self._tickets)
            self._waiting.append((ticket, who))
            self._waiting_by[who] += 1
            try:
                while not (self.running < self.capacity and self._next() == ticket):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BusyError("the assistant is busy; try again in a moment")
                    self._cond.wait(left)
                self.running += 1
                self._running_by[who] += 1
            finally:
                self._waiting.remove((ticket, who))
                self._waiting_by[who] -= 1
                if not self._waiting_by[who]:
                    del self._waiting_by[who]
                self._cond.notify_all()

    def release(self, who: str = "") -> None:
        with self._cond:
            self.running -= 1
            self._running_by[who] -= 1
            if self._running_by[who] <= 0:
                del self._running_by[who]
            self._cond.notify_all()

    @contextlib.contextmanager
    def hold(self, who: str = "") -> Iterator[None]:
        self.acquire(who)
        try:
            yield
        finally:
            self.release(who)


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts up to ``burst``.
    At most ``max_keys`` buckets are kept (the least recently used are dropped)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when ``key`` may go ahead (a token is spent), else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class FailureThrottle:
    """Failed attempts per key (client address) in a sliding window."""

    def __init__(self, max_failures: int, window_s: float, max_keys: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, key: str) -> float:
        """Seconds ``key`` must still wait, or 0.0."""
        now = time.monotonic()
        with self._lock:
            fails = self._fails.get(key)
            if not fails:
                return 0.0
            while fails and fails[0] <= now - self.window_s:
                fails.popleft()
            if len(fails) < self.max_failures:
                return 0.0
            return fails[0] + self.window_s - now

    def fail(self, key: str) -> None:
        with self._lock:
            fails = self._fails.pop(key, None) or deque()
            fails.append(time.monotonic())
            while len(fails) > self.max_failures:
                fails.popleft()
            self._fails[key] = fails
            while len(self._fails) > self.max_keys:
                self._fails.popitem(last=False)

    def check(self, key: str, what: str) -> None:
        """TooManyRequestsError when ``key`` is locked out."""
        wait = self.blocked(key)
        if wait > 0:
            raise TooManyRequestsError(
                f"too many failed {what} from your address; try again in {math.ceil(wait)} s",
                retry_after=wait,
            )
