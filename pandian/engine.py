"""Log-likelihood scoring of continuations given contexts, for Hugging Face causal LMs.

Why it is fast: in k-shot multiple choice every question of a subject repeats the same few-shot prefix, which is
most of the tokens. Requests are grouped (by subject and shot count); each group's longest common token prefix is run
once and its KV cache reused for every question in the group; the remaining tokens are batched by a token budget,
longest first; and the LM head runs only at the positions whose next token is scored (one per question for letter
scoring) instead of at every position.

Why it stays exact: the prefix is a token-level common prefix of the very ids a plain forward would see, attention is
causal and padding sits to the right of real tokens, so every scored position sees exactly the tokens it would see in
a forward over its own full sequence. Batch composition changes only floating-point rounding (tests hold it to 1e-4).
"""

from __future__ import annotations

import inspect
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Iterator, Sequence

import torch


@dataclass(frozen=True)
class Request:
    ctx: tuple[int, ...]
    conts: tuple[tuple[int, ...], ...]
    group: Hashable = None  # prefix reuse happens only inside a group


@dataclass
class _Row:
    ids: tuple[int, ...]  # tokens after the group prefix
    targets: dict[int, set[int]] = field(default_factory=dict)  # position -> tokens whose log-prob is needed
    logprobs: dict[tuple[int, int], float] = field(default_factory=dict)  # (position, token) -> log-prob


@dataclass
class EngineStats:
    prefix_tokens: int = 0
    row_tokens: int = 0  # real (unpadded) tokens computed after prefixes
    padded_tokens: int = 0
    head_positions: int = 0
    forwards: int = 0
    oom_retries: int = 0
    forward_s: float = 0.0  # time inside forwards (prefill compute), for tokens/s


def is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return n


class LoglikelihoodEngine:
    def __init__(self, model, token_budget: int = 4096, kv_budget: int = 1 << 20, max_batch: int = 256,
                 reuse_prefix: bool = True):
        self.model = model
        self.token_budget = token_budget  # padded tokens per forward after the prefix
        self.kv_budget = kv_budget  # batch rows x (prefix + row length): bounds KV cache memory
        self.max_batch = max_batch
        self.reuse_prefix = reuse_prefix
        self.device = next(model.parameters()).device
        self.stats = EngineStats()
        self.trunk, self.head = self._split_model(model)
        params = inspect.signature(self.trunk.forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"

    @staticmethod
    def _split_model(model):
        """(decoder stack, LM head) when running the head on chosen positions is exactly the model's own logits;
        (None, None) when the model post-processes logits (soft-capping, scaling), which forces full logits."""
        cfg = model.config
        if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None) not in (None, 1, 1.0):
            return None, None
        trunk = getattr(model, getattr(model, "base_model_prefix", "model"), None)
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        if trunk is None or head is None or trunk is model:
            return None, None
        return trunk, head

    # ------------------------------------------------------------------ public

    def score(self, requests: Sequence[Request]) -> Iterator[list[tuple[int, list[float]]]]:
        """Yield, batch by batch, (request index, [sum of log-probs of each continuation]) for requests whose
        rows are all computed. Every request is yielded exactly once."""
        groups: dict[Hashable, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            groups[r.group].append(i)
        for idxs in groups.values():
            yield from self._score_group([requests[i] for i in idxs], idxs)

    # ------------------------------------------------------------------ internals

    @torch.no_grad()
    def _score_group(self, reqs: list[Request], idxs: list[int]):
        plen = 0
        if self.reuse_prefix:
            plen = min(common_prefix_len([r.ctx for r in reqs]), min(len(r.ctx) for r in reqs) - 1)
        prefix_kv = self._prefix_kv(reqs[0].ctx[:plen]) if plen > 0 else None

        rows: dict[tuple[int, ...], _Row] = {}
        wanted = []  # per request: per continuation: [(row key, position, token)]
        for r in reqs:
            per_cont = []
            for cont in r.conts:
                ids = r.ctx[plen:] + cont[:-1]
                row = rows.setdefault(ids, _Row(ids))
                start = len(r.ctx) - plen - 1
                triples = [(ids, start + t, tok) for t, tok in enumerate(cont)]
                for _, p, tok in triples:
                    row.targets.setdefault(p, set()).add(tok)
                per_cont.append(triples)
            wanted.append(per_cont)
        rows_left = [len({key for triples in per_cont for key, _, _ in triples}) for per_cont in wanted]
        users = defaultdict(list)
        for ri, per_cont in enumerate(wanted):
            for key in {key for triples in per_cont for key, _, _ in triples}:
                users[key].append(ri)

        order = sorted(rows.values(), key=lambda row: -len(row.ids))
        for batch in self._batches(order, plen):
            self._run_batch(batch, prefix_kv, plen)
            done = []
            for row in batch:
                for ri in users[row.ids]:
                    rows_left[ri] -= 1
                    if rows_left[ri] == 0:
                        scores = [sum(rows[k].logprobs[(p, t)] for k, p, t in triples) for triples in wanted[ri]]
                        done.append((idxs[ri], scores))
            if done:
                yield done

    def _batches(self, order: list[_Row], plen: int):
        i = 0
        while i < len(order):
            longest = len(order[i].ids)  # rows are sorted longest first, so the first sets the padded width
            n = max(1, min(self.max_batch, self.token_budget // longest, self.kv_budget // (plen + longest)))
            yield order[i:i + n]
            i += n

    def _prefix_kv(self, prefix: tuple[int, ...]):
        ids = torch.tensor([prefix], device=self.device)
        model = self.trunk or self.model
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stats.forward_s += time.perf_counter() - t0
        self.stats.prefix_tokens += len(prefix)
        self.stats.forwards += 1
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values")
        return [(layer[0], layer[1]) for layer in cache]

    def _expanded_cache(self, prefix_kv, batch: int):
        from transformers import DynamicCache

        # expand() is a view; the cache's first concatenation materialises one copy per row.
        return DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in prefix_kv])

    def _run_batch(self, batch: list[_Row], prefix_kv, plen: int) -> None:
        try:
            self._forward(batch, prefix_kv, plen)
        except Exception as e:  # out of memory: halve the batch and retry; the result does not change
            if not is_oom(e) or len(batch) == 1:
                raise
            self.stats.oom_retries += 1
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.token_budget = max(1, self.token_budget // 2)
            self.kv_budget = max(1, self.kv_budget // 2)
            half = len(batch) // 2
            self._run_batch(batch[:half], prefix_kv, plen)
            self._run_batch(batch[half:], prefix_kv, plen)

    def _forward(self, batch: list[_Row], prefix_kv, plen: int) -> None:
        t0 = time.perf_counter()
        width = max(len(r.ids) for r in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for b, row in enumerate(batch):
            ids[b, : len(row.ids)] = torch.tensor(row.ids)
        ids = ids.to(self.device)
        kwargs = {}
        if prefix_kv is not None:
            kwargs[self.cache_kwarg] = self._expanded_cache(prefix_kv, len(batch))
        # Right padding needs no attention mask: causal attention keeps real tokens from seeing the pads after them.
        b_idx, p_idx, slots = [], [], []
        for b, row in enumerate(batch):
            for p in sorted(row.targets):
                b_idx.append(b)
                p_idx.append(p)
                slots.append((row, p))
        if self.trunk is not None:
            hidden = self.trunk(input_ids=ids, use_cache=prefix_kv is not None, **kwargs).last_hidden_state
            logits = self.head(hidden[b_idx, p_idx])
        else:
            logits = self.model(input_ids=ids, use_cache=prefix_kv is not None, **kwargs).logits[b_idx, p_idx]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        lp = logprobs.cpu()  # also waits for the device: the timing below is real
        self.stats.forward_s += time.perf_counter() - t0
        for j, (row, p) in enumerate(slots):
            for tok in row.targets[p]:
                row.logprobs[(p, tok)] = lp[j, tok].item()
        self.stats.forwards += 1
        self.stats.row_tokens += sum(len(r.ids) for r in batch)
        self.stats.padded_tokens += len(batch) * width
        self.stats.head_positions += len(slots)

