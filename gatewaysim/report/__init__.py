"""Reports a person reads: a self-contained HTML folder per campaign or replay, SVG
pictures of a run, and a trace exported for Perfetto.

:func:`write_report` writes the folder (``index.html``, a page per finding,
``summary.json``); :func:`~gatewaysim.report.perfetto.to_trace_events` turns records into
the Chrome trace-event format; :mod:`gatewaysim.report.svg` draws the sequence diagram and
the state timeline without a plotting library.
"""

from __future__ import annotations

from .perfetto import to_trace_events
from .store import ReportItem, check_report_dir, item_of, summary, write_report

__all__ = ["ReportItem", "check_report_dir", "item_of", "summary", "to_trace_events",
           "write_report"]
