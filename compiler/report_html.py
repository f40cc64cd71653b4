"""report.html: one self-contained page (inline CSS, script and PNG plots; nothing fetched) rendered from
report.json alone, for the person who would rather see a build than read it.

The script only sorts tables and marks the page once every plot has decoded (`data-plots-rendered`), which is
what the headless-browser test reads; the page is complete without it.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from .report import verification_text
from .report_device import check_text, device_table
from .report_format import num, pct
from .report_kernels import host_kernels_text, kernels_text
from .report_plots import PLOTS

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1 .pass{color:#1a7f37}h1 .fail{color:#cf222e}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left}th{background:#f6f8fa;cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.bad td{background:#ffebe9}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #d0d7de}code{font-size:12px}
"""

SCRIPT = """
document.querySelectorAll('th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], column = th.cellIndex;
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (row) { var t = row.cells[column].textContent, n = parseFloat(t); return isNaN(n) ? t : n; };
    var ascending = th.dataset.order !== 'asc';
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x > y ? 1 : x < y ? -1 : 0) * (ascending ? 1 : -1);
    });
    th.dataset.order = ascending ? 'asc' : 'desc';
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
window.addEventListener('load', function () {
  var images = document.querySelectorAll('figure img');
  var decoded = Array.prototype.filter.call(images, function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.plotsRendered = decoded.length + '/' + images.length;
});
"""


def render_html(report: dict[str, Any]) -> str:
    verdict = "PASS" if report["gate"]["passed"] else "FAIL"
    title = f"edgec build: {report['source']['name']} for {report['target']['id']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}: {verdict}</title><style>{STYLE}</style></head><body>",
        f'<h1>{_e(title)}: <span class="{verdict.lower()}">{verdict}</span></h1>',
        _provenance(report),
        "<h2>Artifacts</h2>",
        _artifacts(report),
        "<h2>Gate</h2>",
        _gate(report),
        *_device(report),
        *_plots(report),
        *(_artifact_detail(art) for art in report["artifacts"]),
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _provenance(report: dict[str, Any]) -> str:
    source, data = report["source"], report["data"]
    rows = [
        ("source", f"{source['location']} ({source['kind']}, sha256 {source['sha256'][:16]})"),
        ("target", f"{report['target']['id']}: {report['target']['description']}"),
        *((name, _data(entry)) for name, entry in data.items() if entry),
        ("float baseline", f"{report['baseline']['file']} in {report['baseline']['runtime']}"),
        *((("built on", _host(report["host"])),) if report.get("host") else ()),
        ("edgec", f"{report['edgec_version']} (report schema {report['schema_version']})"),
        ("tools", ", ".join(f"{k} {v}" for k, v in report["tools"].items())),
        ("built in", f"{report['seconds']:.1f} s"),
    ]
    return _table(["", ""], [[_e(k), _e(v)] for k, v in rows])


def _host(host: dict[str, Any]) -> str:
    return f"{host['model']} ({host['family']}: {', '.join(host['features']) or '-'}; {host['cores']} cores)"


def _data(entry: dict[str, Any]) -> str:
    labels = "labelled" if entry["labels"] else "no labels"
    return f"{entry['samples']} samples, {labels}, from {entry['source']} (sha256 {str(entry['sha256'])[:16]})"


def _artifacts(report: dict[str, Any]) -> str:
    """ST Edge AI's three rows per artifact: vs ground truth, the float model vs ground truth, vs float outputs."""
    head = ["artifact", "runtime", "size (KiB)", "host p50 (ms)", "row", "top-1", "95% interval", "agreement",
            "rmse", "mae", "cosine", "SQNR (dB)", "max abs"]  # fmt: skip
    rows = []
    for art in report["artifacts"]:
        ev, drift = art["evaluation"], art["evaluation"]["drift"]
        stats = ev.get("statistics") or {}
        p50 = (art.get("latency") or {}).get("p50_ms")
        first = [f"<code>{_e(art['file'])}</code>", _e(f"{ev['runtime']} {ev['runtime_version']}")]
        first += [_n(art["size_bytes"] / 1024, 1), _n(p50, 3)]
        errors = [_n(drift[key], digits) for key, digits in (("rmse", 4), ("mae", 4), ("cosine", 5), ("sqnr_db", 2))]
        rows += [
            [*first, "artifact vs truth", pct(ev["accuracy"]), _interval(stats.get("accuracy_interval"))],
            [
                "",
                "",
                "",
                "",
                "float vs truth",
                pct(ev["float_accuracy"]),
                _interval(stats.get("float_accuracy_interval")),
            ],
            ["", "", "", "", "artifact vs float", "", "", pct(drift["agreement"]), *errors, _n(drift["max_abs"], 4)],
        ]
    return _table(head, [row + [""] * (len(head) - len(row)) for row in rows])


def _gate(report: dict[str, Any]) -> str:
    checks = report["gate"]["checks"]
    rows = [
        [_e(c["artifact"]), _e(c["metric"]), _n(c["value"], 4), _n(c["limit"], 4), "ok" if c["passed"] else "FAIL"]
        for c in checks
    ]
    bad = [i for i, c in enumerate(checks) if not c["passed"]]
    not_built = [
        f"<p><b>Not built: {_e(f['file'])}</b> ({_e(f['pipeline'])}): {_e(f['message'])}. Try: {_e(f['try'])}.</p>"
        for f in report.get("failed_artifacts") or []
    ]
    return "\n".join([_table(["artifact", "metric", "value", "limit", "verdict"], rows, bad), *not_built])


def _device(report: dict[str, Any]) -> list[str]:
    head, rows, marked = device_table(report)
    if not rows:
        return []
    parts = ["<h2>On the device</h2>", _table(head, [[_e(cell) for cell in row] for row in rows], marked)]
    for run in report["device_runs"]:
        checks = "".join(f"<li>{_e(check_text(c))}</li>" for c in run["checks"])
        parts.append(f"<p>Checks for {_e(run['label'])}: {'PASS' if run['passed'] else 'FAIL'}</p><ul>{checks}</ul>")
    return parts


def _plots(report: dict[str, Any]) -> list[str]:
    parts = ["<h2>Plots</h2>"]
    for caption, draw in PLOTS:
        png = draw(report)
        if png is not None:
            data = base64.b64encode(png).decode()
            image = f'<img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            parts.append(f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>")
    return parts


def _artifact_detail(art: dict[str, Any]) -> str:
    stats = art["evaluation"].get("statistics") or {}
    parts = [
        f"<h2>{_e(art['file'])}</h2>",
        f"<p>{_e(verification_text(art))}. Pipeline: <code>{_e(art['pipeline'])}</code></p>",
    ]
    origin = [text for text in (kernels_text(art["evaluation"]), host_kernels_text(art["evaluation"])) if text]
    if origin:
        parts.append(f"<p>{_e('; '.join(origin))}.</p>")
    trace = art.get("trace") or {}
    if trace.get("passes"):
        head = ["stage", "runtime", "top-1", "drop (points)", "this step (points)", "agreement", "SQNR (dB)"]
        parts += ["<h3>Drift by step</h3>", _table(head, [
            [_e(r["stage"]), _e(r["runtime"]), pct(r["accuracy"]), _n(r["drop_points"], 2), _n(r["step_points"], 2),
             pct(r["agreement"]), _n(r["sqnr_db"], 2)] for r in trace["passes"]])]  # fmt: skip
    layers = trace.get("layers")
    if layers:
        first = layers["first_diverging"]
        named = ""
        if first:
            named = f"First diverging layer: <code>{_e(first['tensor'])}</code> ({_e(first['op'])}, "
            named += f"{first['sqnr_db']:.1f} dB; {_e(first['rule'])})."

        rows = [
            [str(i), f"<code>{_e(r['tensor'])}</code>", _e(r["op"]), _n(r["sqnr_db"], 1)]
            for i, r in enumerate(layers["tensors"])
        ]
        marked = [i for i, r in enumerate(layers["tensors"]) if first and r["tensor"] == first["tensor"]]
        parts += [
            f"<h3>Per-layer SQNR against {_e(layers['against'])}</h3><p>{named}</p>",
            _table(["#", "tensor", "op", "SQNR (dB)"], rows, marked),
        ]
    if stats.get("per_class"):
        rows = [
            [
                str(r["class"]),
                str(r["samples"]),
                pct(r["float_accuracy"]),
                pct(r["accuracy"]),
                _n(r["delta_points"], 2),
            ]
            for r in stats["per_class"]
        ]
        parts += [
            "<h3>Per-class accuracy</h3>",
            _table(["class", "samples", "float", "artifact", "delta (points)"], rows),
        ]
    flips = stats.get("flips")
    if flips and flips["listed"] and "positions_changed" in flips["listed"][0]:  # a sequence output
        parts.append(f"<h3>Samples with changed positions: {flips['count']}</h3>")
        rows = [[str(f["index"]), f"{f['positions_changed']} of {f['positions']}"] for f in flips["listed"]]
        parts.append(_table(["sample", "positions changed"], rows))
    elif flips:
        parts.append(f"<h3>Prediction flips: {flips['count']}</h3>")
        rows = [
            [
                str(f["index"]),
                str(f["float_label"]),
                str(f["artifact_label"]),
                "-" if f["label"] is None else str(f["label"]),
                _n(f["confidence"], 3),
            ]
            for f in flips["listed"]
        ]
        parts.append(_table(["sample", "float says", "artifact says", "label", "artifact confidence"], rows))
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], marked: list[int] | None = None) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        ("<tr class='bad'>" if marked and i in marked else "<tr>") + "".join(_cell(c) for c in row) + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: str) -> str:
    numeric = text.replace(".", "", 1).replace("-", "", 1).replace("+", "", 1).rstrip("%").isdigit()
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def _e(value: Any) -> str:
    return html.escape(str(value))


def _n(value: Any, digits: int) -> str:
    return _e(num(value, digits))


def _interval(interval: list[float] | None) -> str:
    return "-" if not interval else f"{100 * interval[0]:.2f}-{100 * interval[1]:.2f}%"
