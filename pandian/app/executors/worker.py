"""What runs a unit, wherever it runs: one model variant loaded once, then any number of its units through the one
run lifecycle. The local executor holds one in-process; the Ray executor wraps it in an actor per worker."""

from __future__ import annotations

import socket
from typing import Callable

from pandian.app import lifecycle
from pandian.backends.registry import ModelOptions, load_backend
from pandian.store import open_store


class VariantWorker:
    def __init__(self, variant, store_location: str, device: str = "auto"):
        self.variant = variant
        self.store = open_store(store_location)
        o = variant.options
        self.backend = load_backend(variant.model, ModelOptions(
            backend=o.backend, dtype=o.dtype, device=device, trust_remote_code=o.trust_remote_code, adapter=o.adapter,
            revision=o.revision, quant=o.quant, base_url=o.base_url, cache=self.store))
        self.where = socket.gethostname()

    def ready(self) -> str:
        return self.where

    def run(self, unit, advance: Callable[[int], None] = lambda n: None) -> dict:
        result = lifecycle.evaluate(self.backend, unit.spec, unit.opts, self.store, lifecycle.Progress(advance=advance))
        return {"run_id": result.run_id, "questions": result.summary["questions"],
                "computed": result.summary["computed_now"], "worker": self.where}

    def close(self) -> None:
        self.store.close()
