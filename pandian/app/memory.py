"""How much GPU memory a catalog checkpoint needs in a precision, and on what evidence.

In order of preference: the published figure (resources.csv, inference rows of that checkpoint and precision, batch
1, not a figure its source later revised; the largest of the rows measured at a short prompt, so that a "minimum" is
not read as a guarantee), the `fit` estimate
from the checkpoint's architecture (catalog configs), or a rough figure from the published parameter count alone
(weights + 20% + the CUDA context), which says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pandian.catalog import CONFIG_DIR, Catalog, Resource, Route
from pandian.core import fit

# Published precision strings -> the estimator's names; None: not a plain inference precision (skipped).
_PUBLISHED = [
    (r"q-lora|cpu|bminf|kv cache", None),
    (r"gptq.*int8|^gptq-int8", "gptq-int8"),
    (r"awq", "awq"),
    (r"gptq", "gptq-int4"),
    (r"fp8", "fp8"),
    (r"int8", "int8"),
    (r"int4|nf4", "int4"),
    (r"bf16|fp16|16-bit|unquantized|default", "bf16"),
]
ROUGH_MARGIN = 1.2  # KV cache and activations of a short prompt, over the weights, for the rough figure
LONG_PROMPT = 4096  # published rows measured past this many input tokens are not a short-prompt figure


def published_precision(text: str) -> str | None:
    low = text.lower()
    for pattern, name in _PUBLISHED:
        if re.search(pattern, low):
            return name
    return None


def route_precision(name: str) -> str:
    """A route's precision name in the published rows' terms: fp16 -> bf16 (same bytes), awq-int4 -> awq."""
    return published_precision(name) or name


@dataclass(frozen=True)
class MemoryFigure:
    gb: float
    basis: str  # published / estimated / rough
    detail: str  # the source row, the estimator's breakdown, or the parameter count used
    source: dict | None = None  # published: the Source of the row

    def to_dict(self) -> dict:
        return {"gb": round(self.gb, 2), "basis": self.basis, "detail": self.detail, "source": self.source}


def _prompt_tokens(setting: str) -> int | None:
    m = re.search(r"input(?: length)?\s+(\d+)", setting)
    return int(m.group(1)) if m else None


def _published(catalog: Catalog, route: Route, precision: str) -> MemoryFigure | None:
    """Rows of the checkpoint in that precision, or of the pre-quantized checkpoint itself (Yi's
    "Yi-6B-Chat-8bits", whatever precision name its table uses)."""
    target = dict(route.precisions).get(precision) or ""
    own = target.rstrip("/").rsplit("/", 1)[-1] if target else None

    def matches(r: Resource) -> bool:
        if own and catalog.same_variant(r.model_key, r.variant, own):
            return True
        return catalog.same_variant(r.model_key, r.variant, route.checkpoint) and \
            published_precision(r.precision) == route_precision(precision)

    rows = [r for r in catalog.resources(route.model_key)
            if r.inference and r.gpu_memory_gb is not None and matches(r)
            and "batch=32" not in r.setting and "later revised" not in r.setting]
    short = [r for r in rows if (_prompt_tokens(r.setting) or 0) <= LONG_PROMPT]
    if not short:
        return None
    row = max(short, key=lambda r: r.gpu_memory_gb)
    return MemoryFigure(gb=row.gpu_memory_gb, basis="published",
                        detail=f"{row.raw_value} ({row.precision}; {row.setting})", source=row.source.to_dict())


def memory_for(catalog: Catalog, route: Route, precision: str, context: int = fit.DEFAULT_CONTEXT) -> MemoryFigure:
    published = _published(catalog, route, precision)
    if published:
        return published
    prec = route_precision(precision)
    if route.config and prec != "fp8":
        config = json.loads((CONFIG_DIR / f"{route.config}.json").read_text(encoding="utf-8"))
        est = fit.estimate(config, prec, context)  # awq counts as gptq-int4: the same packed layout
        return MemoryFigure(gb=est["total_gb"], basis="estimated",
                            detail=f"pandian fit: {est['params_b']:.2f}B parameters, {prec}, context {context}: "
                                   f"weights {est['weights_gb']:.1f} + KV {est['kv_cache_gb']:.1f} + activations "
                                   f"{est['activations_gb']:.1f} + CUDA {est['overhead_gb']:.1f} GB")
    if route.params_b is None:
        raise LookupError(f"{route.checkpoint}: no published memory figure, no architecture and no parameter count")
    per_weight = 1.0 if prec == "fp8" else fit.WEIGHT_BYTES[fit.normalize_quant(prec)]
    weights = route.params_b * 1e9 * per_weight / fit.GIB
    return MemoryFigure(gb=weights * ROUGH_MARGIN + fit.CUDA_OVERHEAD_GB, basis="rough",
                        detail=f"{route.params_b:g}B parameters x {per_weight:g} bytes = {weights:.1f} GB weights, "
                               f"+20% for KV cache and activations, +{fit.CUDA_OVERHEAD_GB} GB CUDA context "
                               "(no architecture in the catalog: a rough figure)")
