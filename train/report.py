"""Reports: summary.json, report.md and a self-contained report.html with plots."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from train.evaluate import VariantResult


def table_rows(results: list[VariantResult]) -> list[list[str]]:
    rows = [["variant", "accuracy", "size", "p50 latency", "agreement with keras", "runtime"]]
    for r in results:
        s = r.summary()
        rows.append(
            [
                r.variant,
                f"{s['accuracy']:.2%}",
                f"{s['size_bytes'] / 1024:.1f} KiB" if s["size_bytes"] else "-",
                f"{s['latency_p50_ms']:.3f} ms" if s["latency_p50_ms"] is not None else "-",
                f"{s['agreement_with_keras']:.2%}" if s["agreement_with_keras"] is not None else "-",
                f"{s['runtime']}, {s['threads']} threads" if s["runtime"] else "Keras (TensorFlow)",
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def plot_variants(results: list[VariantResult], path: Path) -> None:
    """Accuracy, size and latency per variant, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in results if r.latency is not None]  # Keras is not timed: no bar, not a zero
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    panels = [
        ("accuracy (%)", results, [r.evaluation.accuracy * 100 for r in results]),
        ("size (KiB)", results, [(r.size_bytes or 0) / 1024 for r in results]),
        (
            f"p50 invoke latency (ms), {timed[0].latency.threads if timed else 0} threads",
            timed,
            [r.latency.p50_ms for r in timed],
        ),
    ]
    for ax, (title, rows, values) in zip(axes, panels):
        bars = ax.bar([r.variant for r in rows], values, color=["#777", "#3a7", "#37c", "#c73"][: len(rows)])
        ax.set_title(title)
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        if title.startswith("accuracy"):
            ax.set_ylim(min(values) - 5 if values else 0, 100.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(result: VariantResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result.evaluation.confusion
    names = result.evaluation.class_names
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion: {result.variant}")
    for (i, j), v in np.ndenumerate(m):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > m.max() / 2 else "black", fontsize=8
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(
    out: Path,
    results: list[VariantResult],
    extra: dict,
    notes: list[str],
    sample_frames: list[Path],
) -> Path:
    """Write summary.json, report.md, report.html (+ PNG plots) into ``out``; returns report.md."""
    plot_variants(results, out / "variants.png")
    confusion_of = next((r for r in results if r.variant == "int8"), results[-1])
    plot_confusion(confusion_of, out / "confusion.png")
    summary = {"variants": {r.variant: r.summary() for r in results}, **extra}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    rows = table_rows(results)
    md = [
        "# edgesight demo report",
        "",
        markdown_table(rows),
        "",
        *[f"- {n}" for n in notes],
        "",
        "![accuracy, size and latency](variants.png)",
        "",
        "![confusion matrix](confusion.png)",
        "",
    ]
    md += ["## Live run samples", ""] + [f"![{p.stem}]({p.name})" for p in sample_frames]
    (out / "report.md").write_text("\n".join(md) + "\n")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    page = [
        "<!doctype html><html><head><meta charset='utf-8'><title>edgesight demo report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}img{max-width:100%;margin:6px}</style>",
        "</head><body><h1>edgesight demo report</h1>",
        f"<table><tr>{head}</tr>{body}</table><ul>",
        *[f"<li>{html.escape(n)}</li>" for n in notes],
        "</ul>",
        _img(out / "variants.png", "accuracy, size and latency"),
        _img(out / "confusion.png", "confusion matrix"),
        "<h2>Live run samples</h2>",
        *[_img(p, p.stem) for p in sample_frames],
        "</body></html>",
    ]
    (out / "report.html").write_text("\n".join(page))
    return out / "report.md"
