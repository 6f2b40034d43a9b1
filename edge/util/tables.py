"""Plain-text and Markdown tables from rows of strings (the first row is the header)."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"^[-+]?\d[\d.,]*\s*(x|%|ms|MB|MiB|KiB|fps)?$|^-$")


def _numeric(rows: list[list[str]], column: int) -> bool:
    body = [r[column] for r in rows[1:]]
    return bool(body) and all(_NUMBER.match(c) for c in body) and any(c != "-" for c in body)


def text_table(rows: list[list[str]]) -> str:
    """Columns padded to their widest cell; columns of numbers are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = [_numeric(rows, i) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.rjust(w) if r_ else c.ljust(w) for c, w, r_ in zip(r, widths, right)).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)
