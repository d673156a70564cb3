"""Charts as inline SVG, drawn by matplotlib.

The SVG is self-contained: text is drawn as paths (``svg.fonttype = "path"``), so the page
looks the same on a machine without the fonts and nothing is fetched. Each chart is rendered on
its own figure object (no pyplot state), so rendering is safe in any thread.
"""

from __future__ import annotations

import io
import re

import matplotlib as mpl
from matplotlib.figure import Figure

from reports.model import Chart, ChartKind

WIDTH_IN = 7.5
HEIGHT_IN = 3.0
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")

# matplotlib writes an XML prolog and a DOCTYPE: neither belongs inside an HTML page.
_PROLOG = re.compile(r"^.*?(?=<svg)", re.DOTALL)
# Its RDF metadata block only names matplotlib; the page says what made it.
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)


def render_svg(chart: Chart) -> str:
    """The chart as an ``<svg>`` element to inline into HTML."""
    with mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": chart.id, "font.size": 9}):
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), layout="constrained")
        axes = figure.add_subplot()
        for index, series in enumerate(chart.series):
            colour = COLOURS[index % len(COLOURS)]
            if chart.kind is ChartKind.HISTOGRAM:
                bins = min(40, max(5, len(series.y) // 4))
                axes.hist(series.y, bins=bins, color=colour, alpha=0.75, label=series.name)
            elif chart.kind is ChartKind.BAR:
                labels = [str(x) for x in series.x] or [str(i) for i in range(len(series.y))]
                axes.bar(labels, series.y, color=colour, label=series.name)
            elif chart.kind is ChartKind.SCATTER:
                x = list(series.x) or list(range(len(series.y)))
                axes.scatter(x, series.y, s=8, color=colour, label=series.name)
            else:
                x = list(series.x) or list(range(len(series.y)))
                axes.plot(x, series.y, marker=".", color=colour, label=series.name)
        axes.set_xlabel(chart.x_label)
        axes.set_ylabel(chart.y_label)
        axes.grid(True, alpha=0.3)
        if len(chart.series) > 1:
            axes.legend()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    return _METADATA.sub("", svg, count=1)
