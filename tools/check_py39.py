"""The edge half stays runnable on Python 3.9 (Raspberry Pi OS Bullseye): no ``X | Y`` union of types
evaluated at run time.

Annotations are not evaluated (every edge module has ``from __future__ import annotations``, which
this check also requires), so ``def f(x: int | None)`` is fine. ``isinstance(v, int | float)``,
``Callable[[int | None], None]`` in a type alias, or ``cast(int | None, v)`` raise TypeError on 3.9.
vermin (run beside this by ``make lint``) covers the standard library; its union detection cannot
tell annotations apart, hence this check.

    python tools/check_py39.py [PATH ...]     (default: edge/)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

TYPE_NAMES = frozenset(
    {"int", "float", "str", "bytes", "bool", "complex", "list", "dict", "tuple", "set", "frozenset", "type"}
)


def _looks_like_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in TYPE_NAMES or node.id[:1].isupper()
    if isinstance(node, ast.Attribute):
        return node.attr[:1].isupper() or node.attr in TYPE_NAMES
    if isinstance(node, ast.Subscript):
        return _looks_like_type(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _looks_like_type(node.left) or _looks_like_type(node.right)
    return False


def _annotations(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation (not evaluated under postponed evaluation)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            roots += [a.annotation for a in every if a is not None]
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
        for root in roots:
            if root is not None:
                skip.update(id(n) for n in ast.walk(root))
    return skip


def problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    future = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    has_annotations = any(
        isinstance(n, (ast.AnnAssign, ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree)
    )
    if has_annotations and not future:
        out.append(f"{path}:1: annotations without 'from __future__ import annotations'")
    skip = _annotations(tree) if future else set()
    for node in ast.walk(tree):
        if id(node) in skip or not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr)):
            continue
        if _looks_like_type(node.left) and _looks_like_type(node.right):
            out.append(f"{path}:{node.lineno}: '{ast.unparse(node)}' is evaluated at run time (3.10+)")
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    targets = [Path(a) for a in argv] or [root / "edge"]
    files = [p for t in targets for p in (sorted(t.rglob("*.py")) if t.is_dir() else [t])]
    found = [line for path in files for line in problems(path)]
    for line in found:
        print(line)
    if found:
        return 1
    print(f"check_py39: {len(files)} files, no union of types evaluated at run time")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
