"""No file in edge/ or train/ over 400 lines, and no function there over 80 lines.

    python tools/check_size.py [ROOT]

Prints each offender and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("edge", "train")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def offenders(root: Path) -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text()
            rel = path.relative_to(root)
            lines = len(text.splitlines())
            if lines > MAX_FILE_LINES:
                out.append(f"{rel}: {lines} lines (at most {MAX_FILE_LINES})")
            for node in ast.walk(ast.parse(text, filename=str(path))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    length = node.end_lineno - start + 1
                    if length > MAX_FUNCTION_LINES:
                        limit = MAX_FUNCTION_LINES
                        out.append(f"{rel}:{node.lineno}: {node.name} is {length} lines (at most {limit})")
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    found = offenders(root)
    for line in found:
        print(line)
    if found:
        return 1
    print(
        f"check_size: every file in {', '.join(PACKAGES)} within {MAX_FILE_LINES} lines, "
        f"every function within {MAX_FUNCTION_LINES}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
