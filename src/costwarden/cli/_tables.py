"""The one table printer of the command line: `check` and `estimate` print through it.

Columns are as wide as their widest cell and two spaces apart; columns named in `right`
(figures) are right-aligned, the others left-aligned; trailing blanks are dropped.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(slots=True)
class Table:
    headers: tuple[str, ...]
    right: Collection[str] = ()
    """Headers of the right-aligned columns."""
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"{len(cells)} cells for {len(self.headers)} columns")
        self.rows.append(cells)

    @property
    def widths(self) -> list[int]:
        return [max(map(len, column)) for column in zip(self.headers, *self.rows, strict=True)]

    def lines(self) -> list[str]:
        """The header and every row, aligned."""
        widths = self.widths
        return [
            "  ".join(
                cell.rjust(width) if header in self.right else cell.ljust(width)
                for cell, width, header in zip(cells, widths, self.headers, strict=True)
            ).rstrip()
            for cells in (self.headers, *self.rows)
        ]

    def markdown(self) -> list[str]:
        """The table as GitHub-flavoured Markdown (figures right-aligned, `|` escaped)."""

        def row(cells: tuple[str, ...]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        rule = "|" + "|".join("---:" if h in self.right else "---" for h in self.headers) + "|"
        return [row(self.headers), rule, *(row(cells) for cells in self.rows)]
