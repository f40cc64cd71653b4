"""The registry as text for the terminal: `edgec builds list`, `show` and what `rollback` says to ship."""

from __future__ import annotations

from datetime import datetime

from ..report_format import num, pct
from .promotion import Rollback
from .record import BuildRecord
from .trend import Drift


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def build_list(records: list[tuple[BuildRecord, str, bool]]) -> str:
    """One line per (build, folder status, promoted) oldest first; `*` marks each target's promoted build."""
    if not records:
        return "no builds registered yet (a compile registers its build; `edgec builds reindex` finds old ones)"
    lines = [f"  {'id':<12}  {'created':<19}  {'target':<10}  {'model':<16}  verdict  folder    top-1 per artifact"]
    for record, status, promoted in records:
        top1 = ", ".join(f"{name} {pct(m.get('top1'))}" for name, m in record.metrics.items())
        lines.append(
            f"{'*' if promoted else ' '} {record.id:<12}  {when(record.created):<19}  {record.target:<10}  "
            f"{record.model:<16}  {record.verdict:<7}  {status:<8}  {top1}"
        )
    return "\n".join(lines)


def build_show(record: BuildRecord, status: str, promoted: bool, drifts: list[Drift]) -> str:
    """A build's identity, host metrics per artifact, and its device runs over time with any drift between them."""
    lines = [
        f"build {record.id}: {record.model} for {record.target}, {record.verdict}" + (", promoted" if promoted else ""),
        f"  created {when(record.created)}; folder {record.path} ({status})",
        f"  edgec {record.edgec_version}; model sha256 {_short(record.model_sha256)}, calibration "
        f"{_short(record.calibration_sha256)}, evaluation {_short(record.evaluation_sha256)}",
    ]
    lines += [f"  pipeline {name}: {spec}" for name, spec in record.pipelines.items()]
    lines += ["host metrics:", "  artifact  file                          top-1     drop   agreement  SQNR dB  p50 ms"]
    for artifact in record.artifacts:
        m = record.metrics[artifact["name"]]
        lines.append(
            f"  {artifact['name']:<8}  {artifact['file']:<28}  {pct(m['top1']):<8}  {num(m['drop_points'], 2):<5}  "
            f"{pct(m['agreement']):<9}  {num(m['sqnr_db'], 1):<7}  {num(m['host_p50_ms'])}"
        )
    if not record.device_runs:
        lines.append("device runs: none (edgec run BUNDLE --build FOLDER, or edgec report ingest, records them)")
    else:
        lines += ["device runs:", f"  {'time':<19}  {'device':<12}  artifact  p50 ms   p90 ms   top-1     vs host  ok"]
        for run in record.device_runs:
            for name, m in run["artifacts"].items():
                lines.append(_device_line(run, name, m))
    mine = [d for d in drifts if record.id in (d.before.build, d.after.build)]
    lines += [
        f"drift: {d.series}, {when(d.before.time)} -> {when(d.after.time)} (build {d.before.build} -> "
        f"{d.after.build}): {d.what}"
        for d in mine
    ]
    return "\n".join(lines)


def shipment(done: Rollback) -> str:
    """What a rollback changed, and the exact files (and hashes) to put back on the devices."""
    back = done.current
    lines = [
        f"{back.target}: rolled back from build {done.previous.id} to build {back.id} ({back.model}, "
        f"created {when(back.created)}); it is the promoted build now",
        "ship these artifacts:",
    ]
    lines += [f"  {a['path']}  sha256 {a['sha256']}  ({a['bytes']} bytes)" for a in back.artifacts]
    return "\n".join(lines)


def _device_line(run: dict, artifact: str, metrics: dict) -> str:
    head = f"  {when(run['started'])}  {run['label'][:12]:<12}  {artifact:<8}"
    if "error" in metrics:
        return f"{head}  error: {metrics['error']}"
    return (
        f"{head}  {num(metrics['p50_ms']):<7}  {num(metrics['p90_ms']):<7}  {pct(metrics['top1']):<8}  "
        f"{pct(metrics['agreement_vs_host']):<7}  {'yes' if run['passed'] else 'NO'}"
    )


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest[:12]
