"""LLM-as-judge: single-answer grading against a reference, pairwise comparison in both orders, Bradley-Terry ratings.

Any backend can judge (an API model, or a local model through its generate()). Every judgment stores the exact
judge prompt and the raw verdict, keyed by the judge's identity and prompt template, so verdicts are auditable and a
rerun asks the judge only what it has not answered. Pairwise comparisons are asked in both orders (position swap):
a pair counts as a win only when both orders agree, otherwise as a tie, which cancels the judge's position bias.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from pandian.app.lifecycle import Committed, Progress, read_split
from pandian.app.privacy import check_private_data
from pandian.backends.base import GenerationRequest, chat_messages
from pandian.core.records import Record
from pandian.core.spec import SpecError
from pandian.store import ResultStore

SINGLE_ZH = (
    "你是一位公正的评审员。请参考标准答案，评价下面 AI 助手对用户问题的回答，综合考虑正确性、相关性、完整性和表达清晰度。"
    "先用几句话说明理由，最后严格按照“评分：[[X]]”的格式给出 1 到 10 之间的整数分，X 为分数。\n\n"
    "[用户问题]\n{question}\n\n[标准答案]\n{reference}\n\n[助手的回答开始]\n{answer}\n[助手的回答结束]"
)
PAIR_ZH = (
    "你是一位公正的评审员。请比较两位 AI 助手对同一用户问题的回答，判断哪一个更好地遵循了用户的要求并回答了问题，"
    "考虑正确性、帮助性、相关性和细节。不要因回答的先后顺序、长短或助手名称而产生偏向。先简要说明理由，"
    "最后严格按照以下格式给出结论：助手 A 更好输出“[[A]]”，助手 B 更好输出“[[B]]”，平局输出“[[C]]”。\n\n"
    "[用户问题]\n{question}\n\n[助手 A 的回答开始]\n{answer_a}\n[助手 A 的回答结束]\n\n"
    "[助手 B 的回答开始]\n{answer_b}\n[助手 B 的回答结束]"
)


def fastchat_prompts(data_dir: Path) -> dict:
    """MT-Bench's own judge prompts (FastChat's judge_prompts.jsonl), read from the data folder."""
    path = data_dir / "mt_bench" / "fastchat" / "llm_judge" / "data" / "judge_prompts.jsonl"
    if not path.exists():
        raise SpecError(f"MT-Bench judge prompts not found at {path}: pass --data-dir holding FastChat's "
                        "fastchat/llm_judge/data folder (as mt_bench/fastchat/llm_judge/data)")
    return {p["name"]: p for p in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())}


def parse_score(verdict: str) -> float | None:
    """The last [[X]] (or "评分：X" / "Rating: X") in a verdict, when it is a score from 1 to 10."""
    hits = re.findall(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]", verdict) or \
        re.findall(r"(?:评分|分数|Rating|Score)\s*[:：]\s*(\d+(?:\.\d+)?)", verdict, flags=re.IGNORECASE)
    if not hits:
        return None
    score = float(hits[-1])
    return score if 1 <= score <= 10 else None


def parse_winner(verdict: str) -> str | None:
    """'A', 'B' or 'tie' from the last [[A]] / [[B]] / [[C]] in a verdict."""
    hits = re.findall(r"\[\[\s*([ABC])\s*\]\]", verdict)
    if not hits:
        return None
    return {"A": "A", "B": "B", "C": "tie"}[hits[-1]]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _messages(system: str | None, user: str) -> GenerationRequest:
    return GenerationRequest(messages=chat_messages(user, system), max_tokens=512, temperature=0)


def _ask(judge, reqs: list[GenerationRequest], commit, progress: Progress) -> int:
    """Send the judge its prompts and commit each verdict, (request index, text), as it arrives, through the run
    lifecycle's commit step. A failed call records nothing and is asked again by a rerun. Returns the failures."""
    failed = 0

    def verdicts():
        nonlocal failed
        for i, result in judge.generate(reqs):
            if result.error:
                failed += 1
                continue
            yield [(i, result.text or "")]

    Committed(commit, progress).drain(verdicts())
    return failed


def _answers(store: ResultStore, run_id: str) -> dict[str, Record]:
    run = store.run(run_id)
    if run is None:
        raise SpecError(f"no run {run_id}")
    return {r.qid: r for r in store.records(run_id)}


def _turns(rec: Record) -> list[str]:
    return rec.turns or [rec.response or ""]


def _single_prompt(rec: Record, question: dict, prompts: dict | None) -> tuple[str | None, str]:
    """(system prompt, judge prompt): FastChat's MT-Bench prompts when given, else pandian's reference grading."""
    if prompts is None:
        return None, SINGLE_ZH.format(question=question["text"], reference=question.get("reference") or "（无）",
                                      answer=_turns(rec)[-1])
    turns, answers = question["turns"], _turns(rec)
    math_like = question.get("reference_answers")
    name = ("single-math-v1" if math_like else "single-v1") + ("-multi-turn" if len(turns) > 1 else "")
    p = prompts[name]
    fields = {"question": turns[0], "answer": answers[0]}
    if len(turns) > 1:
        fields = {"question_1": turns[0], "question_2": turns[1], "answer_1": answers[0],
                  "answer_2": answers[1] if len(answers) > 1 else ""}
    if math_like:
        refs = question["reference_answers"]
        fields.update({"ref_answer_1": refs[0], "ref_answer_2": refs[1] if len(refs) > 1 else ""})
    return p["system_prompt"], p["prompt_template"].format(**fields)


def questions_of(spec, data_dir: Path) -> dict[str, dict]:
    """qid -> {text, reference, turns, reference_answers} for an open benchmark."""
    out = {}
    refs = {}
    if spec.name == "mt-bench":
        ref_path = data_dir / "mt_bench" / "fastchat" / "llm_judge" / "data" / "mt_bench" / "reference_answer" / \
            "gpt-4.jsonl"
        if ref_path.exists():
            for line in ref_path.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                refs[str(r["question_id"])] = r["choices"][0]["turns"]
    for q in read_split(spec, data_dir, spec.splits.eval).questions:
        out[q.qid] = {"text": q.question, "reference": q.target, "turns": q.extra.get("turns", [q.question]),
                      "reference_answers": refs.get(q.qid.split("/")[-1])}
    return out


def judge_single(store: ResultStore, judge, run_id: str, spec, data_dir: Path,
                 progress: Progress | None = None, allow_remote_data: bool = False) -> dict:
    """Grade every answer of `run_id` from 1 to 10; returns mean scores overall and per subject with 95% CIs."""
    answers = _answers(store, run_id)
    questions = questions_of(spec, data_dir)
    check_private_data(spec, judge, allow_remote_data, len(answers))
    prompts = fastchat_prompts(data_dir) if spec.name == "mt-bench" else None
    judge_id = _key(judge.identity(), SINGLE_ZH if prompts is None else "fastchat-single")
    done = store.judged(judge_id, run_id, "")
    todo, reqs = [], []
    for qid, rec in answers.items():
        if qid in done or qid not in questions:
            continue
        system, prompt = _single_prompt(rec, questions[qid], prompts)
        todo.append((qid, prompt))
        reqs.append(_messages(system, prompt))
    def commit(verdicts: list[tuple[int, str]]) -> None:
        for i, verdict in verdicts:
            qid, prompt = todo[i]
            store.add_judgment(judge_id, run_id, "", qid, "single", prompt, verdict, parse_score(verdict), None)

    failed = _ask(judge, reqs, commit, progress or Progress())
    rows = store.judgments(judge_id, run_id, "")
    by_subject = defaultdict(list)
    for r in rows:
        if r["score"] is not None and r["qid"] in answers:
            by_subject[answers[r["qid"]].subject].append(r["score"])
    scores = [s for v in by_subject.values() for s in v]
    return {"run_id": run_id, "judge": judge.name, "judge_id": judge_id, "judged": len(rows),
            "unparsed": sum(1 for r in rows if r["score"] is None), "failed_calls": failed,
            "mean": _mean_ci(scores), "subjects": {s: _mean_ci(v) for s, v in sorted(by_subject.items())}}


def _mean_ci(xs: list[float], draws: int = 2000, seed: int = 0) -> dict:
    if not xs:
        return {"n": 0, "mean": None, "ci95": [None, None]}
    a = np.array(xs)
    boots = np.random.default_rng(seed).choice(a, size=(draws, len(a))).mean(1)
    return {"n": len(a), "mean": float(a.mean()),
            "ci95": [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]}


def judge_pairwise(store: ResultStore, judge, run_a: str, run_b: str, spec, data_dir: Path,
                   progress: Progress | None = None, allow_remote_data: bool = False) -> dict:
    """Compare two runs' answers question by question, asking the judge in both orders."""
    a, b = _answers(store, run_a), _answers(store, run_b)
    questions = questions_of(spec, data_dir)
    check_private_data(spec, judge, allow_remote_data, len(a))
    template = PAIR_ZH
    system = None
    if spec.language == "en":
        p = fastchat_prompts(data_dir)["pair-v2"]
        template, system = p["prompt_template"], p["system_prompt"]
    judge_id = _key(judge.identity(), template)
    done = store.judged(judge_id, run_a, run_b)
    todo, reqs = [], []
    for qid in sorted(set(a) & set(b) & set(questions)):
        for order, (x, y) in (("ab", (a, b)), ("ba", (b, a))):
            if (qid, order) in done:
                continue
            prompt = template.format(question=questions[qid]["text"], answer_a=_turns(x[qid])[0],
                                     answer_b=_turns(y[qid])[0])
            todo.append((qid, order, prompt))
            reqs.append(_messages(system, prompt))
    def commit(verdicts: list[tuple[int, str]]) -> None:
        for i, verdict in verdicts:
            qid, order, prompt = todo[i]
            store.add_judgment(judge_id, run_a, run_b, qid, order, prompt, verdict, None, parse_winner(verdict))

    failed = _ask(judge, reqs, commit, progress or Progress())
    outcomes = pair_outcomes(store.judgments(judge_id, run_a, run_b))
    counts = {k: sum(1 for v in outcomes.values() if v == k) for k in ("a", "b", "tie")}
    return {"run_a": run_a, "run_b": run_b, "judge": judge.name, "judge_id": judge_id, "failed_calls": failed,
            "questions": len(outcomes), **counts, "outcomes": outcomes}


def pair_outcomes(rows: list[dict]) -> dict[str, str]:
    """qid -> 'a' | 'b' | 'tie' from the two orders' verdicts: a win needs both orders to agree."""
    by_q = defaultdict(dict)
    for r in rows:
        by_q[r["qid"]][r["position"]] = r["winner"]
    out = {}
    for qid, v in by_q.items():
        if "ab" not in v or "ba" not in v:
            continue
        first = {"A": "a", "B": "b"}.get(v["ab"], "tie")
        second = {"A": "b", "B": "a"}.get(v["ba"], "tie")  # in the swapped order, A is run b
        out[qid] = first if first == second else "tie"
    return out


def bradley_terry(games: list[tuple[str, str, float]], iters: int = 200) -> dict[str, float]:
    """Ratings on the Elo scale (mean 1000) from (player i, player j, score of i: 1 win, 0.5 tie, 0 loss), by the
    minorization-maximization updates of Hunter (2004); ties count half a win to each side."""
    players = sorted({p for g in games for p in g[:2]})
    wins = defaultdict(float)
    n = defaultdict(float)
    for i, j, s in games:
        wins[i] += s
        wins[j] += 1 - s
        n[(i, j)] += 1
        n[(j, i)] += 1
    p = {k: 1.0 for k in players}
    for _ in range(iters):
        new = {}
        for i in players:
            denom = sum(n[(i, j)] / (p[i] + p[j]) for j in players if j != i and n[(i, j)])
            new[i] = max(wins[i], 1e-3) / denom if denom else p[i]  # an unbeaten or winless player stays finite
        g = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        p = {k: v / g for k, v in new.items()}
    return {k: 1000 + 400 * math.log10(v) for k, v in p.items()}


def ratings(pairwise: list[dict], labels: dict[str, str], draws: int = 200, seed: int = 0) -> dict:
    """Bradley-Terry ratings over all compared pairs, with 95% intervals from resampling questions."""
    per_q = defaultdict(list)
    for res in pairwise:
        for qid, o in res["outcomes"].items():
            s = {"a": 1.0, "b": 0.0, "tie": 0.5}[o]
            per_q[qid].append((labels[res["run_a"]], labels[res["run_b"]], s))
    qids = sorted(per_q)
    point = bradley_terry([g for q in qids for g in per_q[q]])
    rng = np.random.default_rng(seed)
    boots = defaultdict(list)
    for _ in range(draws):
        sample = rng.choice(len(qids), size=len(qids))
        for k, v in bradley_terry([g for i in sample for g in per_q[qids[i]]], iters=100).items():
            boots[k].append(v)
    return {k: {"rating": v, "ci95": [float(np.quantile(boots[k], 0.025)), float(np.quantile(boots[k], 0.975))]}
            for k, v in sorted(point.items(), key=lambda kv: -kv[1])}
