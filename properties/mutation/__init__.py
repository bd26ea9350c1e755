"""Mutation testing of a pack's invariants: would they notice a bug in the model?

:func:`mutate` makes seeded mutants of the model package (:mod:`.operators`), runs a
bounded exploration campaign on each in a process of its own that imports the mutated copy
(:mod:`.child`), and classifies each (:mod:`.runner`): killed (by which invariant),
crashed, timed out, survived, or stillborn (its model raises in a run of no steps). Mutants
are tasks (:mod:`.task`) for the runners campaigns at scale use, so they run on every core
or a Dask cluster; :mod:`.verdicts` books them. :func:`render` prints the table, the
survivors' diffs and the mutation score (:mod:`.report`). The user's files are only ever
read.
"""

from __future__ import annotations

from .operators import OPERATORS, Mutant, generate
from .report import EQUIVALENTS, load_equivalents, render, score
from .runner import Campaign, judge, model_package, mutate

__all__ = ["EQUIVALENTS", "OPERATORS", "Campaign", "Mutant", "generate", "judge",
           "load_equivalents", "model_package", "mutate", "render", "score"]
