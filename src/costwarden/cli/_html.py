"""The audit as one self-contained HTML page: totals, charts (inline SVG) and its tables.

A finance reader opens the file as it is — no server, no script, nothing fetched: the
styles are inline and the charts are drawn here as SVG bars. Every text from the cluster
(names, labels, messages) is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from costwarden.engine import wording

if TYPE_CHECKING:
    from costwarden.cli.audit import Audit

CAPACITY_COLOURS = {"on-demand": "#2f6fb0", "spot": "#3a9a5b", "reserved": "#8a5cb8"}
BAR_COLOUR = "#2f6fb0"
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: #5b6576; margin-bottom: 16px; }
.totals { display: flex; gap: 16px; flex-wrap: wrap; margin: 16px 0; }
.total { border: 1px solid #d8dde6; border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.total .figure { font-size: 22px; font-weight: 600; } .total .what { color: #5b6576; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart { border: 1px solid #d8dde6; border-radius: 6px; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e9ef;
         vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; } .n { text-align: right; white-space: nowrap; }
.none { color: #5b6576; font-style: italic; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
"""
NUMERIC = {"$/H", "$/MONTH", "GPUS", "OBJECTS", "DENY", "WARN"}
WIDTH, LABEL_WIDTH, ROW = 560, 230, 24
"""A chart's width, the width of its labels' column and the height of one bar's row (px)."""
BAR_ROOM = WIDTH - LABEL_WIDTH - 90
"""The longest bar, leaving room for its figure."""


def report(
    audit: Audit, tables: Iterable[tuple[str, Sequence[str], Sequence[Sequence[str]]]]
) -> str:
    """The page for `audit`, with `tables` (title, headers, rows) below its charts."""
    total = audit.total
    money = _money(audit.currency)
    tiles = [
        (money(total.hourly), "an hour now"),
        (
            money(total.monthly)
            + (f" +{total.monthly_unknown} unknown" if total.monthly_unknown else ""),
            "a month",
        ),
        (wording.number(total.gpus), "GPUs"),
        (str(total.objects), "workloads"),
        (str(sum(1 for w in audit.workloads if not w.checked.verdict.allowed)), "denied today"),
        (str(len(audit.unpriced())), "unpriced"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>costwarden audit — {escape(wording.day(audit.now))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>costwarden audit: who runs what, at what cost</h1>",
        f'<div class="sub">as of {escape(wording.day(audit.now))} · catalog '
        f"{escape(audit.catalog)} · {escape(audit.currency)} · figures are the high end of "
        "each estimate</div>",
        '<div class="totals" id="totals">',
        *(
            f'<div class="total"><div class="figure">{escape(figure)}</div>'
            f'<div class="what">{escape(what)}</div></div>'
            for figure, what in tiles
        ),
        "</div>",
        '<div class="charts">',
        _chart(
            "Cost by cost centre ($/h)",
            [(group, s.hourly) for group, s in audit.showback("costCentre")],
            money,
        ),
        _gpu_chart(audit, money),
        _chart(
            "Top workloads ($/h)",
            [(w.title, w.hourly) for w in audit.top_workloads()],
            money,
        ),
        _chart(
            "Cost by team ($/h)",
            [(group, s.hourly) for group, s in audit.showback("team")],
            money,
        ),
        "</div>",
    ]
    for title, headers, rows in tables:
        parts.append(f"<h2>{escape(title)}</h2>")
        if not rows:
            parts.append('<p class="none">None.</p>')
            continue
        parts.append(_table(headers, rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def _money(currency: str) -> Any:
    return lambda amount: wording.money(amount, currency)


def _chart(title: str, bars: Sequence[tuple[str, Decimal]], money: Any) -> str:
    """Horizontal bars, one per (label, value), longest for the largest value."""
    width, label_width, row = WIDTH, LABEL_WIDTH, ROW
    largest = max((value for _, value in bars), default=Decimal(0))
    height = max(row * len(bars), row) + 8
    rows = []
    for index, (label, value) in enumerate(bars):
        y = index * row + 4
        length = 0 if largest == 0 else float(value / largest) * BAR_ROOM
        rows.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(_clip(label))}'
            f"<title>{escape(label)}</title></text>"
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{length:.1f}" height="16" '
            f'fill="{BAR_COLOUR}"></rect>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}">{escape(money(value))}</text>'
        )
    body = "".join(rows) or '<text x="4" y="18" class="none">nothing to show</text>'
    return (
        f'<div class="chart"><h2>{escape(title)}</h2>'
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="12">{body}</svg></div>'
    )


def _gpu_chart(audit: Audit, money: Any) -> str:
    """$/h by GPU model, each bar split by capacity type."""
    cells = audit.gpu_matrix()
    models = sorted(
        {model for model, _ in cells},
        key=lambda m: -sum(s.hourly for (model, _), s in cells.items() if model == m),
    )
    width, label_width, row = WIDTH, LABEL_WIDTH, ROW
    totals = {
        m: sum((s.hourly for (model, _), s in cells.items() if model == m), Decimal(0))
        for m in models
    }
    largest = max(totals.values(), default=Decimal(0))
    height = max(row * len(models), row) + 8
    rows = []
    for index, model in enumerate(models):
        y, x = index * row + 4, float(label_width)
        rows.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(_clip(model))}'
            "</text>"
        )
        for capacity, colour in CAPACITY_COLOURS.items():
            figures = cells.get((model, capacity))
            if figures is None or largest == 0:
                continue
            length = float(figures.hourly / largest) * BAR_ROOM
            rows.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{length:.1f}" height="16" '
                f'fill="{colour}"><title>{escape(model)}, {escape(capacity)}: '
                f"{escape(money(figures.hourly))}/h</title></rect>"
            )
            x += length
        rows.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{escape(money(totals[model]))}</text>')
    body = "".join(rows) or '<text x="4" y="18" class="none">no accelerators run</text>'
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{escape(capacity)}</span>'
        for capacity, colour in CAPACITY_COLOURS.items()
    )
    title = "GPU model × capacity type ($/h)"
    return (
        f'<div class="chart"><h2>{escape(title)}</h2><div class="legend">{legend}</div>'
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="12">{body}</svg></div>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if h in NUMERIC else f"<th>{escape(h)}</th>"
        for h in headers
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if h in NUMERIC else f"<td>{escape(c)}</td>"
            for h, c in zip(headers, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _clip(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
