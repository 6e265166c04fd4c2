"""`pandian judge grade|pairwise`: open answers graded by a judge model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pandian.cli import app
from pandian.cli.common import DataDirOption, DbOption, JsonOption, Typer, console, exit_failed_calls, fail
from pandian.cli.render import safe

judge_app = Typer(no_args_is_help=True, help="Grade open answers with a judge model (AlignBench, MT-Bench).")
app.add_typer(judge_app, name="judge")

JudgeOption = typer.Option(..., "--judge", help="judge model: API reference or local model")
BaseUrlOption = typer.Option(None, "--base-url", help="judge API: base URL of an OpenAI-compatible server")
DeviceOption = typer.Option("auto", "--device", help="local judge: auto, cpu, cuda")
AllowRemoteOption = typer.Option(False, "--allow-remote-data", help="let a remote judge API see a private "
                                                                    "benchmark's questions and answers")


def _context(run_ids: list[str], db: Optional[str], data_dir: Optional[Path], judge: str, base_url, device):
    """(store, spec, data dir, judge backend) for judging runs of one open benchmark."""
    from pandian import settings
    from pandian.backends.base import ModelLoadError
    from pandian.backends.openai_api import APIConfigError
    from pandian.backends.registry import ModelOptions, load_backend
    from pandian.core.spec import SpecError, load_spec
    from pandian.cli.common import open_db

    store = open_db(db, existing=True)
    runs = [store.run(r) for r in run_ids]
    if any(r is None for r in runs):
        fail(f"unknown run among {', '.join(run_ids)}; `pandian runs` lists them")
    benches = {r["benchmark"] for r in runs}
    if len(benches) != 1:
        fail(f"the runs are on different benchmarks: {', '.join(sorted(benches))}")
    try:
        spec = load_spec(benches.pop())
        backend = load_backend(judge, ModelOptions(base_url=base_url, device=device, cache=store))
    except (SpecError, ModelLoadError, APIConfigError) as e:
        fail(str(e))
    return store, spec, settings.data_dir(data_dir), backend


@judge_app.command("grade")
def judge_grade(
    run_id: str = typer.Argument(..., help="a run of an open benchmark (alignbench, mt-bench)"),
    judge: str = JudgeOption,
    base_url: Optional[str] = BaseUrlOption,
    device: str = DeviceOption,
    data_dir: Optional[Path] = DataDirOption,
    db: Optional[str] = DbOption,
    as_json: bool = JsonOption,
    allow_remote_data: bool = AllowRemoteOption,
):
    """Single-answer grading, 1-10, against the reference answer; judge prompts and raw verdicts are stored."""
    from pandian.app.judge import judge_single
    from pandian.core.spec import SpecError

    store, spec, ddir, backend = _context([run_id], db, data_dir, judge, base_url, device)
    try:
        res = judge_single(store, backend, run_id, spec, ddir, allow_remote_data=allow_remote_data)
    except SpecError as e:
        fail(str(e))
    if as_json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
    else:
        _print_grades(res, spec, store.run(run_id)["model"])
    if res["failed_calls"]:
        exit_failed_calls(f"{res['failed_calls']} answer(s) got no verdict", None)


def _print_grades(res: dict, spec, model: str) -> None:
    t = Table(title=safe(f"{spec.title}: {model} graded by {res['judge']}"), title_justify="left")
    for c in ("subject", "answers", "mean score (95% CI)"):
        t.add_column(c, justify="left" if c == "subject" else "right")
    for name, m in [*res["subjects"].items(), ("Overall", res["mean"])]:
        ci = m["ci95"]
        t.add_row(safe(name), str(m["n"]), "-" if m["mean"] is None else f"{m['mean']:.2f} ({ci[0]:.2f}–{ci[1]:.2f})")
    console.print(t)
    console.print(f"{res['judged']} verdicts, {res['unparsed']} without a score, {res['failed_calls']} failed calls",
                  highlight=False)


@judge_app.command("pairwise")
def judge_pairwise_cmd(
    run_ids: list[str] = typer.Argument(..., help="two or more runs of the same open benchmark"),
    judge: str = JudgeOption,
    base_url: Optional[str] = BaseUrlOption,
    device: str = DeviceOption,
    data_dir: Optional[Path] = DataDirOption,
    db: Optional[str] = DbOption,
    as_json: bool = JsonOption,
    allow_remote_data: bool = AllowRemoteOption,
):
    """Every pair of runs compared question by question in both orders; Bradley-Terry ratings with 95% CIs."""
    from itertools import combinations

    from pandian.app.pairing import variant_label
    from pandian.app.judge import judge_pairwise, ratings
    from pandian.core.spec import SpecError

    if len(run_ids) < 2:
        fail("pairwise needs at least two runs")
    store, spec, ddir, backend = _context(run_ids, db, data_dir, judge, base_url, device)
    try:
        pairs = [judge_pairwise(store, backend, a, b, spec, ddir, allow_remote_data=allow_remote_data)
                 for a, b in combinations(run_ids, 2)]
    except SpecError as e:
        fail(str(e))
    labels = {r: f"{variant_label(store.run(r))}#{r[:6]}" for r in run_ids}
    result = {"pairs": [{k: v for k, v in p.items() if k != "outcomes"} for p in pairs],
              "ratings": ratings(pairs, labels)}
    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print_pairwise(result, pairs, labels, spec, backend.name)
    failed = sum(p["failed_calls"] for p in pairs)
    if failed:
        exit_failed_calls(f"{failed} pairwise judgment(s) got no verdict", None)


def _print_pairwise(result: dict, pairs: list[dict], labels: dict, spec, judge_name: str) -> None:
    t = Table(title=safe(f"{spec.title}: pairwise, judge {judge_name}, both orders"), title_justify="left")
    for c in ("A", "B", "questions", "A wins", "B wins", "ties"):
        t.add_column(c)
    for p in pairs:
        t.add_row(safe(labels[p["run_a"]]), safe(labels[p["run_b"]]), str(p["questions"]), str(p["a"]),
                  str(p["b"]), str(p["tie"]))
    console.print(t)
    r = Table(title="Bradley-Terry ratings (Elo scale, 95% bootstrap CI over questions)", title_justify="left")
    for c in ("model", "rating", "95% CI"):
        r.add_column(c)
    for name, v in result["ratings"].items():
        r.add_row(safe(name), f"{v['rating']:.0f}", f"{v['ci95'][0]:.0f}–{v['ci95'][1]:.0f}")
    console.print(r)
