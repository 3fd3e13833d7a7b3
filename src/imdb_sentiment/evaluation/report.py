"""One Markdown-table writer for every table the project prints: the sweep's and the benchmarks'.

    print(markdown_table([{"engine": "torch", "reviews/s": 41.237}], formats={"reviews/s": "{:.1f}"}))

    | engine | reviews/s |
    |---|---|
    | torch | 41.2 |

Rows are dicts (a missing key is an empty cell) or sequences in the order of ``columns``. Depends
on nothing but the standard library, so benchmarks and every sub-package can use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Format = str | Callable[[Any], str]


def markdown_table(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    columns: Sequence[str] | None = None,
    formats: Mapping[str, Format] | None = None,
    *,
    float_format: Format | None = None,
    missing: str = "",
) -> str:
    """A Markdown table (header, ``|---|`` rule, one line a row), without a trailing newline.

    ``columns``: the header, in order. For dict rows it also picks the keys, and defaults to every
    key in the order the rows first have it; for sequence rows it is required.
    ``formats``: column name -> a ``str.format`` pattern (``"{:,.0f}"``) or a function of the value.
    ``float_format``: the same for floats of a column without an entry in ``formats``; other
    values print as ``str(value)``.
    ``missing``: what ``None``, NaN and an absent dict key print as.
    A ``|`` inside a cell is escaped and a line break becomes a space, so a cell stays one cell.
    """
    formats = formats or {}
    dict_rows = bool(rows) and isinstance(rows[0], Mapping)
    if columns is None:
        if rows and not dict_rows:
            raise ValueError("markdown_table needs columns for rows that are sequences")
        columns = list(dict.fromkeys(key for row in rows for key in row))
    columns = list(columns)

    def cell(column: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return missing
        style = formats.get(column)
        if style is None and isinstance(value, float):
            style = float_format
        text = str(value) if style is None else style(value) if callable(style) else style.format(value)
        return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        if dict_rows:
            values = [row.get(column) for column in columns]
        else:
            values = list(row)
            if len(values) != len(columns):
                raise ValueError(f"a row has {len(values)} cells for {len(columns)} columns: {values!r}")
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(columns, values)) + " |")
    return "\n".join(lines)
