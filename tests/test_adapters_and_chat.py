"""A LoRA adapter on a base model (how BenTsao and ChatLaw ship), and chat templates, through `pandian eval`."""

from __future__ import annotations

import json

import pytest
import torch

from .conftest import cli


@pytest.fixture(scope="module")
def lora_dir(tiny_model_dir, tmp_path_factory):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = peft.get_peft_model(base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # LoRA starts as the identity (B = 0); make it change the model
            p.data.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("lora") / "adapter"
    model.save_pretrained(out)
    return out


def test_adapter_changes_scores_exactly_as_peft_applies_it(tiny_model_dir, lora_dir, data_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    args = ["eval", "--model", tiny_model_dir, "--bench", "mmlu", "--data-dir", data_dir, "--subjects", "anatomy",
            "--limit", "6", "--db", tmp_path / "r.db", "--json"]
    base = json.loads(cli(*args))
    tuned = json.loads(cli(*args, "--adapter", lora_dir))
    assert base["run_id"] != tuned["run_id"] and tuned["model"].endswith(f"+{lora_dir}")

    import sqlite3

    con = sqlite3.connect(tmp_path / "r.db")
    lp = {r: json.loads(x) for r, x in con.execute(
        "SELECT run_id, logprobs FROM records WHERE qid = 'anatomy/1'")}
    assert max(abs(a - b) for a, b in zip(lp[base["run_id"]], lp[tuned["run_id"]])) > 1e-3
    # the adapter applied on the fly by peft (unmerged) gives the same log-probs as pandian's merged model
    from pandian.backends.hf import load_hf_model
    from pandian.core.data import load_split
    from pandian.core.prompts import render
    from pandian.core.spec import load_spec

    spec = load_spec("mmlu")
    q = load_split(spec, data_dir, "test", ["anatomy"]).questions[0]
    p = render(spec, spec.prompts["native"], q, [])
    tok_model = load_hf_model(str(tiny_model_dir), device="cpu")
    (ctx, conts), = tok_model.tokenize([p.text()], [p.continuations], "separate")
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora_dir).eval()
    ref = []
    for c in conts:  # a continuation may be more than one token: sum them
        with torch.no_grad():
            logp = torch.log_softmax(peft_model(torch.tensor([ctx + c])).logits[0].float(), -1)
        ref.append(sum(logp[len(ctx) - 1 + t, tok].item() for t, tok in enumerate(c)))
    assert max(abs(a - b) for a, b in zip(ref, lp[tuned["run_id"]])) < 1e-4


def test_chat_template_multiple_choice_and_generation(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "o"
    res = json.loads(cli("eval", "--model", tiny_model_dir, "--bench", "xcopa-zh", "--data-dir", data_dir,
                            "--limit", "4", "--chat-template", "--system-prompt", "你是助手。", "--db", tmp_path / "r.db",
                            "--json", "--out", out))
    assert res["config"]["chat_template"] and res["config"]["system_prompt"] == "你是助手。"
    gen = json.loads(cli("eval", "--model", tiny_model_dir, "--bench", "xcopa-zh", "--data-dir", data_dir,
                            "--limit", "4", "--chat-template", "--scoring", "generate", "--max-tokens", "6",
                            "--db", tmp_path / "r.db", "--json"))
    assert gen["config"]["scoring"] == "generate" and gen["questions"] == 4
    assert gen["methods"]["generate"] == 4 and gen["resources"]["decode"]["token_latency_s_p50"] is not None
    rec = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    assert len(rec["logprobs"]) == 2  # XCOPA: two alternatives
