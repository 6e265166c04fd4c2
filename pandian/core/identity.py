"""A run's identity: everything that can change a number, hashed into the run id.

Batch size, --limit and --subjects are absent on purpose: they choose which questions are computed and how fast,
never what a question scores. Change anything listed here and a run gets a new id: old results are never silently
overwritten or mixed with new ones.
"""

from __future__ import annotations

import hashlib
import json


def run_identity(*, spec_name: str, spec_hash: str, model_identity: dict, data_fp: str, split: str,
                 prompt_format: str, shots: int, scoring: str, system_prompt: str | None,
                 max_length: int | None, chat_template: str | None, overflow: str, prompt_source: str | None = None,
                 generation: dict | None = None) -> tuple[str, dict]:
    ident = {
        "weights": model_identity.get("fingerprint"),
        "dtype": model_identity.get("dtype"),
        "benchmark": spec_name,
        "spec_hash": spec_hash,
        "data": data_fp,
        "split": split,
        "prompt_format": prompt_format,
        "shots": shots,
        "scoring": scoring,
        "chat_template": hashlib.sha256(chat_template.encode()).hexdigest()[:12] if chat_template else None,
        "system_prompt": system_prompt,
        "max_length": max_length,
    }
    # What a prompt longer than max_length becomes, and the harness config a format reproduces (OpenCompass's, by
    # name). Dropping shots is what every run did before the policy was a choice: it is left out, so their ids stand.
    if overflow != "drop-shots":
        ident["overflow"] = overflow
    if prompt_source is not None:
        ident["prompt_source"] = prompt_source
    if generation is not None:  # sampling settings change generated answers
        ident["generation"] = generation
    for k, v in model_identity.items():  # e.g. a quantization variant, an API's base URL
        # a local model's name is display only (its weights fingerprint identifies it); an API model's is its identity
        if k != "fingerprint" and (k != "model" or ident["weights"] is None):
            ident.setdefault(k, v)
    run_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    return run_id, ident
