"""Looking at runs: views of traces, state at an instant, diffs, DataFrames and plots.

Everything here reads traces and knows no model; a pack's words for its states come in
through :class:`StateRules`. A view of a run made of steps (a failure file, a step list)
can be rerun with one decision changed: :meth:`TraceView.branch`. pandas and matplotlib
are imported only when a DataFrame or a plot is asked for
(``pip install gatewaysim[notebooks]``).
"""

from .branch import (
    ChangeArg,
    Delay,
    RemoveStep,
    ReplaceStep,
    RunOutcome,
    StepMark,
)
from .calls import CallSpan, call_spans
from .diff import TraceDiff, diff
from .display import Timeline
from .plots import sequence_diagram, state_timeline
from .state import DEFAULT_RULES, AlarmSpan, StateRules, StatesAt, Transition
from .view import TraceView, ViewSource

__all__ = [
    "DEFAULT_RULES", "AlarmSpan", "CallSpan", "ChangeArg", "Delay", "RemoveStep", "ReplaceStep",
    "RunOutcome", "StateRules", "StatesAt", "StepMark", "Timeline", "TraceDiff", "TraceView",
    "Transition", "ViewSource", "call_spans", "diff", "sequence_diagram", "state_timeline",
]
