"""``edgesight bench --compare A.json B.json ...``: benchmark records side by side, with ratios against
the first record and, when matplotlib is installed, a plot as PNG and as a self-contained HTML page.

Each row is compared with the first record's row for the same model (by sha256), thread count and
XNNPACK setting on the same interpreter; failing that, on any interpreter; then for the same model;
then for the same setting; then its first row.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from edge.bench.report import device_line
from edge.errors import EdgeError
from edge.util.tables import text_table

REQUIRED = ("device", "runtime", "model", "results")
RATIO_NOTE = (
    "p50 / first: this row's p50 over the first record's p50 for the same model, interpreter, threads "
    "and XNNPACK setting (failing that: any interpreter, then the same model, then the same setting); "
    "above 1 is slower"
)
RESULT_KEYS = ("model", "runtime", "threads", "xnnpack", "p50_ms", "p90_ms", "mean_ms", "fps")


@dataclass(frozen=True)
class Row:
    """One result of one record, with its ratio against its baseline."""

    record: str
    model: str
    sha256: str
    runtime: str
    threads: int
    xnnpack: bool
    delegate: str
    p50_ms: float
    p90_ms: float
    mean_ms: float
    fps: float
    ratio: float | None  # p50 / the baseline's p50
    windows: tuple[tuple[float, float], ...]  # (start s, fps) in sustained mode

    @property
    def runtime_name(self) -> str:
        return self.runtime.split()[0]

    @property
    def label(self) -> str:
        return f"{self.record}: {self.model}, {self.runtime}, {self.threads}t, {self.delegate}"


def load_record(path: Path) -> dict:
    """Read a ``--json`` record, checking it is one."""
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise EdgeError(f"record not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeError(f"{path} is not a readable JSON record: {exc}") from None
    missing = [k for k in REQUIRED if not isinstance(record, dict) or k not in record]
    if missing:
        raise EdgeError(f"{path} is not an edgesight bench record: no {', '.join(missing)}")
    if not isinstance(record["results"], list) or not all(isinstance(r, dict) for r in record["results"]):
        raise EdgeError(f"{path} is a malformed bench record: 'results' is not a list of objects")
    for result in record["results"]:
        gaps = [k for k in RESULT_KEYS if k not in result]
        if gaps:
            raise EdgeError(f"{path}: a result lacks {', '.join(gaps)}")
    record.setdefault("name", Path(path).stem)
    try:  # every field the comparison reads, with the types it needs
        compare_rows([record])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EdgeError(f"{path} is a malformed bench record: {type(exc).__name__}: {exc}") from None
    return record


def _models(record: dict) -> dict[str, dict]:
    models = record["model"] if isinstance(record["model"], list) else [record["model"]]
    return {m["path"]: m for m in models}


def record_names(records: list[dict]) -> list[str]:
    """Each record's name; numbered when two share one (the same device twice)."""
    names = [str(r["name"]) for r in records]
    if len(set(names)) < len(names):
        names = [f"{i + 1}:{n}" for i, n in enumerate(names)]
    return names


def compare_rows(records: list[dict]) -> list[Row]:
    """Every result of every record, each with its ratio against the first record."""
    names = record_names(records)
    rows: list[Row] = []
    for name, record in zip(names, records):
        models = _models(record)
        for r in record["results"]:
            model = models.get(r["model"], {})
            rows.append(
                Row(
                    record=name,
                    model=Path(r["model"]).name,
                    sha256=model.get("sha256", Path(r["model"]).name),
                    runtime=f"{r['runtime']} {r.get('runtime_version', '')}".strip(),
                    threads=int(r["threads"]),
                    xnnpack=bool(r["xnnpack"]),
                    delegate=r.get("delegate", "XNNPACK" if r["xnnpack"] else "none"),
                    p50_ms=float(r["p50_ms"]),
                    p90_ms=float(r["p90_ms"]),
                    mean_ms=float(r["mean_ms"]),
                    fps=float(r["fps"]),
                    ratio=None,
                    windows=tuple((w["start_s"], w["fps"]) for w in r.get("windows", ())),
                )
            )
    first = [row for row in rows if row.record == names[0]]
    if not first:
        return rows
    out = []
    for row in rows:
        base = _baseline(row, first)
        ratio = row.p50_ms / base.p50_ms if base.p50_ms > 0 else None
        out.append(Row(**{**row.__dict__, "ratio": ratio}))
    return out


def _baseline(row: Row, first: list[Row]) -> Row:
    """The first record's row to compare ``row`` with: the same model, interpreter and setting, else
    the same model and setting on another interpreter, else the same model, else the same setting,
    else its first row."""
    tests = (
        lambda b: (
            (b.sha256, b.runtime_name, b.threads, b.xnnpack)
            == (row.sha256, row.runtime_name, row.threads, row.xnnpack)
        ),
        lambda b: (b.sha256, b.threads, b.xnnpack) == (row.sha256, row.threads, row.xnnpack),
        lambda b: b.sha256 == row.sha256,
        lambda b: (b.threads, b.xnnpack) == (row.threads, row.xnnpack),
    )
    for test in tests:
        match = next((b for b in first if test(b)), None)
        if match is not None:
            return match
    return first[0]


def table_rows(rows: list[Row]) -> list[list[str]]:
    head = ["record", "model", "runtime", "threads", "delegate", "p50 ms", "p90 ms", "mean ms", "fps"]
    table = [[*head, "p50 / first"]]
    for r in rows:
        table.append(
            [
                r.record,
                r.model,
                r.runtime,
                str(r.threads),
                r.delegate,
                f"{r.p50_ms:.3f}",
                f"{r.p90_ms:.3f}",
                f"{r.mean_ms:.3f}",
                f"{r.fps:.1f}",
                f"{r.ratio:.2f}x" if r.ratio is not None else "-",
            ]
        )
    return table


def format_compare(records: list[dict], rows: list[Row]) -> list[str]:
    out = [f"{name}: {device_line(rec['device'])}" for name, rec in zip(record_names(records), records)]
    out += ["", text_table(table_rows(rows)), ""]
    out.append(RATIO_NOTE)
    return out


def has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot_paths(out: Path) -> tuple[Path, Path]:
    base = out.with_suffix("") if out.suffix.lower() in (".png", ".html") else out
    return base.with_suffix(".png"), base.with_suffix(".html")


def write_plot(records: list[dict], rows: list[Row], out: Path) -> tuple[Path, Path]:
    """p50 (bar) and p90 (tick) per row, and throughput over time for sustained rows; PNG + HTML."""
    if not has_matplotlib():
        raise EdgeError("the plot needs matplotlib: pip install matplotlib (the table above is complete)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png, page = plot_paths(out)
    sustained = [r for r in rows if r.windows]
    panels = 2 if sustained else 1
    height = 1.2 + 0.45 * len(rows) + 3.2 * (panels - 1)
    fig, axes = plt.subplots(panels, 1, figsize=(11, height), squeeze=False)
    ax = axes[0][0]
    y = list(range(len(rows)))[::-1]
    colors = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(r.record for r in rows))}
    ax.barh(y, [r.p50_ms for r in rows], color=[colors[r.record] for r in rows], label="p50")
    ax.scatter([r.p90_ms for r in rows], y, marker="|", s=200, color="black", label="p90", zorder=3)
    ax.set_yticks(y, [r.label for r in rows], fontsize=8)
    p50s = [r.p50_ms for r in rows if r.p50_ms > 0]
    if p50s and max(p50s) / min(p50s) > 50:  # models of very different sizes: keep the small ones visible
        ax.set_xscale("log")
    ax.set_xlabel("invoke latency, ms")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    if sustained:
        ax2 = axes[1][0]
        for r in sustained:
            ax2.plot([w[0] for w in r.windows], [w[1] for w in r.windows], marker=".", label=r.label)
        ax2.set_xlabel("time, s")
        ax2.set_ylabel("invokes per second")
        ax2.legend(fontsize=7)
        ax2.grid(alpha=0.3)
    fig.tight_layout()
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png, dpi=110)
        plt.close(fig)
        page.write_text(_html(records, rows, png.read_bytes()))
    except OSError as exc:
        raise EdgeError(f"cannot write the plot to {png.parent}: {exc.strerror or exc}") from None
    return png, page


def _html(records: list[dict], rows: list[Row], png: bytes) -> str:
    table = table_rows(rows)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table[1:])
    devices = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(device_line(rec['device']))} "
        f"({html.escape(str(rec.get('date', '')))})</li>"
        for name, rec in zip(record_names(records), records)
    )
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgesight bench comparison</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}
td:nth-child(-n+5){{text-align:left}}</style>
</head><body>
<h1>edgesight bench comparison</h1>
<ul id="devices">{devices}</ul>
<table id="results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{html.escape(RATIO_NOTE)}</p>
<img id="plot" alt="latency per record and setting" src="data:image/png;base64,{image}">
</body></html>
"""
