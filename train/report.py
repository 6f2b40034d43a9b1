"""Reports: summary.json, report.md and a self-contained report.html with plots."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.util.tables import markdown_table
from train.evaluate import VariantResult, headline


def quality_title(results: list[VariantResult]) -> str:
    return "mAP@[.5:.95] (%)" if "mAP50_95" in results[0].summary() else "top-1 accuracy (%)"


PALETTE = ("#777", "#3a7", "#37c", "#c73", "#a4c", "#5bb", "#db3", "#c44")


def _quality(s: dict) -> list[str]:
    """The accuracy columns of a summary: top-1, or mAP@[.5:.95], mAP@.5 and the best-F1 threshold."""
    if "mAP50_95" in s:
        best = s.get("best_f1")
        cut = f"{best['threshold']:.2f} (F1 {best['f1']:.3f})" if best else "-"
        return [f"{s['mAP50_95']:.3f}", f"{s['mAP50']:.3f}", cut]
    return [f"{s['accuracy']:.2%}"]


def table_rows(results: list[VariantResult], verdicts: dict | None = None) -> list[list[str]]:
    """Header + one row per result; with ``verdicts`` (variant -> Verdict) a verdict column too."""
    detect = "mAP50_95" in results[0].summary()
    quality = ["mAP@[.5:.95]", "mAP@.5", "threshold (best F1)"] if detect else ["accuracy"]
    agreement = [] if detect else ["agreement with keras"]
    rows = [["variant", *quality, "size", "p50 latency", *agreement, "runtime"]]
    if verdicts is not None:
        rows[0].append("verdict")
    for r in results:
        s = r.summary()
        verdict = verdicts.get(r.variant) if verdicts is not None else None
        agree = f"{s['agreement_with_keras']:.2%}" if s["agreement_with_keras"] is not None else "-"
        rows.append(
            [
                r.variant,
                *_quality(s),
                f"{s['size_bytes'] / 1024:.1f} KiB" if s["size_bytes"] else "-",
                f"{s['latency_p50_ms']:.3f} ms" if s["latency_p50_ms"] is not None else "-",
                *([] if detect else [agree]),
                f"{s['runtime']}, {s['threads']} threads" if s["runtime"] else "Keras (TensorFlow)",
            ]
        )
        if verdicts is not None:
            rows[-1].append("reference" if verdict is None else "ok" if verdict.accepted else "REFUSED")
    return rows


def plot_variants(results: list[VariantResult], path: Path) -> None:
    """Accuracy, size and latency per variant, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in results if r.latency is not None]  # Keras is not timed: no bar, not a zero
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    panels = [
        (quality_title(results), results, [headline(r.evaluation) * 100 for r in results]),
        ("size (KiB)", results, [(r.size_bytes or 0) / 1024 for r in results]),
        (
            f"p50 invoke latency (ms), {timed[0].latency.threads if timed else 0} threads",
            timed,
            [r.latency.p50_ms for r in timed],
        ),
    ]
    color = {r.variant: PALETTE[i % len(PALETTE)] for i, r in enumerate(results)}  # same in every panel
    for ax, (title, rows, values) in zip(axes, panels):
        bars = ax.bar([r.variant for r in rows], values, color=[color[r.variant] for r in rows])
        ax.tick_params(axis="x", labelrotation=45 if len(rows) > 4 else 0, labelsize=8)
        ax.set_title(title, fontsize=9)
        ax.bar_label(bars, fmt="%.0f" if title.startswith("size") else "%.3g", fontsize=8)
        if title == quality_title(results):
            ax.set_ylim(min(values) - 5 if values else 0, 100.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_class(results: list[VariantResult], path: Path) -> None:
    """AP@[.5:.95] (or accuracy) of each class, one bar per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from train.evaluate import per_class

    names = list(per_class(results[0].evaluation))
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 1.2), 3.6))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        values = [per_class(r.evaluation)[n] * 100 for n in names]
        xs = [k + i * width for k in range(len(names))]
        ax.bar(xs, values, width, label=r.variant, color=PALETTE[i % len(PALETTE)])
    ax.set_xticks([k + width * (len(results) - 1) / 2 for k in range(len(names))], names)
    ax.set_ylabel("AP@[.5:.95] (%)" if "mAP50_95" in results[0].summary() else "accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("per class", fontsize=9)
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


@dataclass(frozen=True)
class Section:
    """One part of a report page: an optional heading, table, bullet notes and images."""

    heading: str | None = None
    rows: list[list[str]] | None = None
    notes: tuple[str, ...] = ()
    images: tuple[Path, ...] = ()


def write_pages(out: Path, title: str, sections: list[Section]) -> Path:
    """report.md (images linked) and a self-contained report.html (images inlined); returns report.md."""
    md = [f"# {title}", ""]
    page = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}img{max-width:100%;margin:6px}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    for sec in sections:
        if sec.heading:
            md += [f"## {sec.heading}", ""]
            page.append(f"<h2>{html.escape(sec.heading)}</h2>")
        if sec.rows:
            md += [markdown_table(sec.rows), ""]
            head = "".join(f"<th>{html.escape(c)}</th>" for c in sec.rows[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in sec.rows[1:]
            )
            page.append(f"<table><tr>{head}</tr>{body}</table>")
        if sec.notes:
            md += [*[f"- {n}" for n in sec.notes], ""]
            page.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in sec.notes) + "</ul>")
        for image in sec.images:
            md += [f"![{image.stem}]({image.name})", ""]
            page.append(_img(image, image.stem))
    page.append("</body></html>")
    (out / "report.md").write_text("\n".join(md))
    (out / "report.html").write_text("\n".join(page))
    return out / "report.md"


def write_report(
    out: Path,
    results: list[VariantResult],
    extra: dict,
    notes: list[str],
    sample_frames: list[Path],
) -> Path:
    """The demo's summary.json, report.md, report.html (+ PNG plots) in ``out``; returns report.md."""
    plot_variants(results, out / "variants.png")
    confusion_of = next((r for r in results if r.variant == "int8"), results[-1])
    plot_confusion(confusion_of, out / "confusion.png")
    summary = {"variants": {r.variant: r.summary() for r in results}, **extra}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    sections = [
        Section(None, table_rows(results), tuple(notes), (out / "variants.png", out / "confusion.png")),
        Section("Live run samples", images=tuple(sample_frames)),
    ]
    return write_pages(out, "edgesight demo report", sections)
