"""Network and server faults injected into Bot API calls, on demand or as a seeded profile."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

FaultKind = Literal["429", "500", "502", "timeout", "drop", "drop_after"]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)

# Faults that the server answers without doing the work; the others do the work first.
UNPROCESSED: frozenset[FaultKind] = frozenset({"429", "500", "502", "drop"})


@dataclass(frozen=True)
class Fault:
    """What to do to one call.

    "429", "500", "502": answer with that error and do nothing.
    "timeout": do the work, then answer only after `Faults.timeout_delay` seconds.
    "drop": close the connection without an answer and do nothing.
    "drop_after": do the work, then close the connection without an answer.
    """

    kind: FaultKind
    retry_after: int = 1


@dataclass(frozen=True)
class FaultHit:
    """A fault that was applied to a call."""

    method: str
    fault: Fault


@dataclass
class _Injection:
    method: str | None
    fault: Fault
    remaining: int
    chat_id: int | None = None


@dataclass(frozen=True)
class _Profile:
    rate: float
    rng: random.Random
    kinds: tuple[FaultKind, ...]
    weights: tuple[float, ...]
    methods: frozenset[str] | None
    max_retry_after: int


class Faults:
    """Decides, per call, whether a fault applies.

    Calls to getUpdates are spared unless named explicitly: PTB's updater backs off for
    seconds after each polling error, which would only slow tests down.
    """

    def __init__(self, timeout_delay: float = 10.0) -> None:
        # Longer than PTB's default read timeout of 5 s, so a "timeout" really times out.
        self.timeout_delay = timeout_delay
        self._injections: list[_Injection] = []
        self._profile: _Profile | None = None
        self.hits: list[FaultHit] = []

    def inject(
        self,
        method: str | None = None,
        *,
        kind: FaultKind,
        count: int = 1,
        retry_after: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Apply `kind` to the next `count` calls of `method` (any method if None), to any chat
        or only to calls for `chat_id`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        self._injections.append(_Injection(method, Fault(kind, retry_after), count, chat_id))

    def profile(
        self,
        rate: float = 0.2,
        seed: int = 0,
        kinds: Mapping[FaultKind, float] | None = None,
        methods: Collection[str] | None = None,
        max_retry_after: int = 5,
    ) -> None:
        """Fault a `rate` share of calls at random, reproducibly for a given seed.

        `kinds` weighs the fault kinds (all equally by default); a 429 gets a retry_after of
        1-5 seconds, at most `max_retry_after` (a seed draws the same faults whatever it is).
        `methods` limits the profile to these methods.
        """
        if max_retry_after < 1:
            raise ValueError("max_retry_after must be at least 1 (Telegram's smallest)")
        weights = dict(kinds) if kinds is not None else dict.fromkeys(FAULT_KINDS, 1.0)
        unknown = set(weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self._profile = _Profile(
            rate=rate,
            rng=random.Random(seed),  # noqa: S311 - reproducible, not secret
            kinds=tuple(weights),
            weights=tuple(weights.values()),
            methods=frozenset(methods) if methods is not None else None,
            max_retry_after=max_retry_after,
        )

    def clear(self) -> None:
        """Stop injecting faults (the history in `hits` stays)."""
        self._injections.clear()
        self._profile = None

    def draw(self, method: str, chat_id: object = None) -> Fault | None:
        """The fault for this call, if any; recorded in `hits`."""
        fault = self._injected(method, chat_id) or self._random(method)
        if fault is not None:
            self.hits.append(FaultHit(method, fault))
        return fault

    def _injected(self, method: str, chat_id: object) -> Fault | None:
        for injection in self._injections:
            if injection.chat_id is not None and str(injection.chat_id) != str(chat_id):
                continue
            if injection.method == method or (injection.method is None and method != "getUpdates"):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection.fault
        return None

    def _random(self, method: str) -> Fault | None:
        profile = self._profile
        if profile is None:
            return None
        if profile.methods is not None:
            if method not in profile.methods:
                return None
        elif method == "getUpdates":
            return None
        # Draw the same numbers for every eligible call so a seed replays the same faults.
        roll = profile.rng.random()
        kind = profile.rng.choices(profile.kinds, profile.weights)[0]
        retry_after = min(profile.rng.randint(1, 5), profile.max_retry_after)
        if roll >= profile.rate:
            return None
        return Fault(kind, retry_after if kind == "429" else 1)
