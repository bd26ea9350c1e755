"""The fault-plan pass: make a failing run as small as it will go, with a budget of its own.

Hypothesis shrinks inside its search, and only as far as the search's wall-clock budget
lets it: a finding that turns up late comes back long. This pass runs after it, on the run
itself, and costs a fixed number of replays whatever the search was given, so how minimal
a minimal run is does not depend on how busy the machine was. It is the pass users of
other simulation testers ask for (delete steps, merge waits, weaken faults), greedy and
deterministic: each change is kept when the same invariant still fails after it.

Passes, repeated until none changes anything or the budget is spent:

1. **delete** runs of steps, halving the chunk size down to single steps (delta debugging);
2. **merge** adjacent waits into one (the step that advances time, declared by the pack);
3. **weaken** integer arguments towards their lower bound (a shorter wait, an earlier
   client, a smaller count): the lower bound first, then halfway, as far as it still fails.
"""

from __future__ import annotations

import attrs
from attrs import frozen

from .monitor import Violation
from .run import RunSpec, resolve
from .steps import Step

DEFAULT_REPLAYS = 400
"""Replays the pass may spend on one finding (each is one run of the candidate)."""


@frozen
class Shrunk:
    """The smallest run found, its violation, what it cost, and whether the pass finished
    (``complete``: no single change left would make it smaller)."""

    steps: tuple[Step, ...]
    violation: Violation
    replays: int
    complete: bool


class _Budget(Exception):
    """The replays are spent: stop where we are (the run found so far still fails)."""


class _Shrinker:
    """The state of one pass: the best run so far and what it has cost."""

    def __init__(self, spec: RunSpec, violation: Violation, replays: int) -> None:
        self.pack = resolve(spec.pack)
        self.advance = self.pack.advance
        self.invariant = violation.invariant_id
        self.judged = spec.judged_by(self.invariant)
        self.replays = replays
        self.spent = 0
        self.steps = tuple(spec.steps)
        self.violation = violation

    def attempt(self, candidate: tuple[Step, ...]) -> bool:
        """Run ``candidate``; keep it if the same invariant still fails."""
        if candidate == self.steps:
            return False
        if self.spent >= self.replays:
            raise _Budget
        self.spent += 1
        found = attrs.evolve(self.judged, steps=candidate).execute().violation
        if found is None or found.invariant_id != self.invariant:
            return False
        self.steps, self.violation = candidate, found
        return True

    def delete(self) -> bool:
        """Delete chunks of steps, from the end backwards, halving the chunk size."""
        changed = False
        size = max(1, len(self.steps) // 2)
        while size >= 1:
            i = len(self.steps) - size
            while i >= 0:
                if self.attempt(self.steps[:i] + self.steps[i + size:]):
                    changed = True
                    i = min(i, len(self.steps) - size)
                else:
                    i -= size
            size //= 2
        return changed

    def merge(self) -> bool:
        changed = False
        arg = self.advance.time_arg
        assert arg is not None
        declared = self.advance.specs.get(arg)
        high = declared.high if declared is not None else None
        i = 0
        while i + 1 < len(self.steps):
            a, b = self.steps[i], self.steps[i + 1]
            if a.name == b.name == self.advance.name:
                total = a.args[arg] + b.args[arg]
                if high is None or total <= high:
                    merged = Step(self.advance.name, {**a.args, arg: total})
                    if self.attempt((*self.steps[:i], merged, *self.steps[i + 2:])):
                        changed = True
                        continue
            i += 1
        return changed

    def weaken(self) -> bool:
        changed = False
        for i in range(len(self.steps)):
            if i >= len(self.steps):
                break
            kind = self.pack.steps.get(self.steps[i].name)
            if kind is None:
                continue
            for name, declared in sorted(kind.specs.items()):
                if declared is not None and declared.type is int and declared.low is not None:
                    changed |= self.lower(i, name, declared.low)
        return changed

    def lower(self, i: int, name: str, low: int) -> bool:
        """Lower argument ``name`` of step ``i`` towards ``low`` while the run still fails:
        the bound itself first, then halfway between it and the last value that failed."""
        changed = False
        value = self.steps[i].args[name]
        target = low
        while target < value:
            step = self.steps[i]
            candidate = Step(step.name, {**step.args, name: target})
            if self.attempt((*self.steps[:i], candidate, *self.steps[i + 1:])):
                changed, value, target = True, target, low
            else:
                target += (value - target + 1) // 2
        return changed


def shrink(spec: RunSpec, violation: Violation, *, replays: int = DEFAULT_REPLAYS) -> Shrunk:
    """Shrink ``spec``'s steps while ``violation``'s invariant still fails after them."""
    state = _Shrinker(spec, violation, replays)
    complete = True
    try:
        while state.delete() | state.merge() | state.weaken():
            pass
    except _Budget:
        complete = False
    return Shrunk(state.steps, state.violation, state.spent, complete)


__all__ = ["DEFAULT_REPLAYS", "Shrunk", "shrink"]
