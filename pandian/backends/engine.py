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
from itertools import accumulate
from typing import Callable, Hashable, Iterator, Sequence

import torch

from pandian.backends import prefix_attention
from pandian.backends.base import TokenRequest as Request


SHARED_START = 16  # tokens that must match for contexts to share a group's prefix


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
    text = str(e).lower()  # CUDA: "out of memory"; the CPU allocator: "can't allocate memory" / "not enough memory"
    return isinstance(e, torch.cuda.OutOfMemoryError) or any(
        m in text for m in ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory"))


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
                 reuse_prefix: bool = True, full_model: Callable[[], object] | None = None):
        """`model`: a transformers causal LM, or a light_model.LightModel (weights alone) with `full_model` to load
        the transformers model the first time a request needs its forward."""
        self.token_budget = token_budget  # padded tokens per forward after the prefix
        self.kv_budget = kv_budget  # batch rows x (prefix + row length): bounds KV cache memory
        self.max_batch = max_batch
        self.reuse_prefix = reuse_prefix
        self.stats = EngineStats()
        self.full_model = full_model
        self._use(model)

    def _use(self, model) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.trunk, self.head = self._split_model(model)
        params = inspect.signature((self.trunk or model).forward).parameters
        self.cache_kwarg = "cache" if "cache" in params else "past_key_values"
        # Letter scoring of LLaMA-family models on CPU: pandian's own decoder forward with shared-prefix attention
        # (no per-row copies of the prefix, fewer passes over activations); otherwise the transformers forward, the
        # prefix's KV cache copied into each row, which works for any model that takes a transformers Cache.
        self.decoder = prefix_attention.PrefixDecoder(model) \
            if self.reuse_prefix and prefix_attention.supported(model) else None

    def _transformers_forward(self) -> None:
        """Before a forward through transformers' model: a light model is swapped for it (and its decoder rebuilt
        on the same weights, so the swap changes no number)."""
        if self.full_model is not None:
            load, self.full_model = self.full_model, None
            self.model = self.decoder = None  # the light weights go before the full model is read
            self._use(load())

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
            for part in self._by_shared_start(requests, idxs):
                yield from self._score_group([requests[i] for i in part], part)

    def _by_shared_start(self, requests: Sequence[Request], idxs: list[int]) -> list[list[int]]:
        """A group split in two when a few of its contexts do not start like the rest: a prompt cut from the left
        to fit the context (--overflow truncate-left) shares no prefix with its subject, and left in the group it
        would make the common prefix empty for all (MMLU college_medicine: 5 of 173, and 9x the time)."""
        if not self.reuse_prefix or len(idxs) < 3:
            return [idxs]
        starts = defaultdict(list)
        for i in idxs:
            starts[tuple(requests[i].ctx[:SHARED_START])].append(i)
        main = max(starts.values(), key=len)
        if len(main) == len(idxs) or len(main) < 2:
            return [idxs]
        kept = set(main)
        return [main, [i for i in idxs if i not in kept]]

    # ------------------------------------------------------------------ internals

    @torch.no_grad()
    def _score_group(self, reqs: list[Request], idxs: list[int]):
        plen = 0
        if self.reuse_prefix:
            plen = min(common_prefix_len([r.ctx for r in reqs]), min(len(r.ctx) for r in reqs) - 1)
        if any(len(c) > 1 for r in reqs for c in r.conts):
            prefix_kv = self._prefix_kv(reqs[0].ctx[:plen]) if plen > 0 else None
            yield from self._score_continuations(reqs, idxs, prefix_kv, plen)
            return
        prefix_kv = self._prefix_kv(reqs[0].ctx[:plen], self.decoder is not None) if plen > 0 else None

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
            self._with_oom_retry(lambda b: self._forward(b, prefix_kv, plen), batch)
            done = []
            for row in batch:
                for ri in users[row.ids]:
                    rows_left[ri] -= 1
                    if rows_left[ri] == 0:
                        scores = [sum(rows[k].logprobs[(p, t)] for k, p, t in triples) for triples in wanted[ri]]
                        done.append((idxs[ri], scores))
            if done:
                yield done

    def _score_continuations(self, reqs: list[Request], idxs: list[int], prefix_kv, plen: int):
        """Multi-token continuations (choice-text scoring): each question's context is run once, on top of the
        group prefix, and its KV cache is then shared by all of its continuations."""
        order = sorted(range(len(reqs)), key=lambda i: -len(reqs[i].ctx))
        i = 0
        while i < len(order):
            first = reqs[order[i]]
            width = len(first.ctx) - plen + max(len(c) for c in first.conts)
            rows = len(first.conts) + 1
            n = max(1, min(self.max_batch, self.token_budget // (width * rows),
                           self.kv_budget // ((plen + width) * rows)))
            batch = order[i:i + n]
            i += n
            yield self._with_oom_retry(lambda b: self._context_then_continuations(
                [reqs[j] for j in b], [idxs[j] for j in b], prefix_kv, plen), batch)

    def _with_oom_retry(self, run, batch: list):
        """run(batch), halving the batch on out-of-memory; the results do not depend on the split."""
        try:
            return run(batch)
        except Exception as e:
            if not is_oom(e) or len(batch) == 1:
                raise
            self.stats.oom_retries += 1
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.token_budget = max(1, self.token_budget // 2)
            self.kv_budget = max(1, self.kv_budget // 2)
            half = len(batch) // 2
            return self._with_oom_retry(run, batch[:half]) + self._with_oom_retry(run, batch[half:])

    def _positions_logprobs(self, ids, b_idx, p_idx, **kwargs):
        """Log-softmax at the chosen (row, position) pairs, and the forward's KV cache."""
        self._transformers_forward()
        if self.trunk is not None:
            out = self.trunk(input_ids=ids, **kwargs)
            logits = self.head(out.last_hidden_state[b_idx, p_idx])
        else:
            out = self.model(input_ids=ids, **kwargs)
            logits = out.logits[b_idx, p_idx]
        self.stats.forwards += 1
        self.stats.head_positions += len(b_idx)
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        return torch.log_softmax(logits.float(), dim=-1).cpu(), cache

    def _context_then_continuations(self, rs: list[Request], out_idx: list[int], prefix_kv, plen: int):
        from transformers import DynamicCache

        t0 = time.perf_counter()
        suffix = [r.ctx[plen:] for r in rs]
        width = max(len(x) for x in suffix)
        ids = torch.zeros((len(rs), width), dtype=torch.long)
        for b, x in enumerate(suffix):
            ids[b, : len(x)] = torch.tensor(x)
        cache = self._expanded_cache(prefix_kv, len(rs)) if prefix_kv is not None else DynamicCache()
        first, ctx_cache = self._positions_logprobs(
            ids.to(self.device), list(range(len(rs))), [len(x) - 1 for x in suffix], use_cache=True,
            **{self.cache_kwarg: cache})
        scores = [[first[b, c[0]].item() for c in r.conts] for b, r in enumerate(rs)]
        self.stats.row_tokens += sum(len(x) for x in suffix)
        self.stats.padded_tokens += len(rs) * width

        # each continuation's remaining tokens, on its own question's cached context
        rows = [(b, c) for b, r in enumerate(rs) for c, cont in enumerate(r.conts) if len(cont) > 1]
        if rows:
            tail = max(len(rs[b].conts[c]) - 1 for b, c in rows)
            sel = torch.tensor([b for b, _ in rows], device=self.device)
            cont_cache = DynamicCache([(layer[0][sel], layer[1][sel]) for layer in ctx_cache])
            ids3 = torch.zeros((len(rows), tail), dtype=torch.long)
            mask = torch.zeros((len(rows), plen + width + tail), dtype=torch.long)
            pos = torch.zeros((len(rows), tail), dtype=torch.long)
            b_idx, p_idx, want = [], [], []
            for k, (b, c) in enumerate(rows):
                cont, n_ctx = rs[b].conts[c], len(suffix[b])
                ids3[k, : len(cont) - 1] = torch.tensor(cont[:-1])
                mask[k, : plen + n_ctx] = 1  # the question's own tokens; its right padding stays masked
                mask[k, plen + width: plen + width + len(cont) - 1] = 1
                pos[k] = plen + n_ctx + torch.arange(tail)
                for t in range(len(cont) - 1):
                    b_idx.append(k)
                    p_idx.append(t)
                    want.append((b, c, cont[t + 1]))
            lp, _ = self._positions_logprobs(ids3.to(self.device), b_idx, p_idx, attention_mask=mask.to(self.device),
                                             position_ids=pos.to(self.device), use_cache=True,
                                             **{self.cache_kwarg: cont_cache})
            for j, (b, c, tok) in enumerate(want):
                scores[b][c] += lp[j, tok].item()
            self.stats.row_tokens += sum(len(rs[b].conts[c]) - 1 for b, c in rows)
            self.stats.padded_tokens += len(rows) * tail
        self.stats.forward_s += time.perf_counter() - t0
        return list(zip(out_idx, scores))

    def _batches(self, order: list[_Row], plen: int):
        i = 0
        while i < len(order):
            longest = len(order[i].ids)  # rows are sorted longest first, so the first sets the padded width
            n = max(1, min(self.max_batch, self.token_budget // longest, self.kv_budget // (plen + longest)))
            yield order[i:i + n]
            i += n

    def _prefix_kv(self, prefix: tuple[int, ...], decoder: bool = False):
        """Per layer (keys, values) of the prefix: for pandian's decoder, or for a transformers cache."""
        t0 = time.perf_counter()
        if decoder:
            kv = self.decoder.prefix_cache(prefix)
        else:
            self._transformers_forward()
            model = self.trunk or self.model
            out = model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            kv = [(layer[0], layer[1]) for layer in (getattr(out, "cache", None) or out.past_key_values)]
        self.stats.forward_s += time.perf_counter() - t0
        self.stats.prefix_tokens += len(prefix)
        self.stats.forwards += 1
        return kv

    def _expanded_cache(self, prefix_kv, batch: int):
        from transformers import DynamicCache

        # expand() is a view; the cache's first concatenation materialises one copy per row.
        return DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in prefix_kv])

    def _forward(self, batch: list[_Row], prefix_kv, plen: int) -> list:
        t0 = time.perf_counter()
        width = max(len(r.ids) for r in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for b, row in enumerate(batch):
            ids[b, : len(row.ids)] = torch.tensor(row.ids)
        # Right padding needs no attention mask: causal attention keeps real tokens from seeing the pads after them.
        slots = [(b, row, p) for b, row in enumerate(batch) for p in sorted(row.targets)]
        b_idx, p_idx = [b for b, _, _ in slots], [p for _, _, p in slots]
        if self.decoder is not None:  # positions continue after the prefix
            lengths = [len(r.ids) for r in batch]
            offsets = [0, *accumulate(lengths[:-1])]
            hidden = self.decoder.hidden(ids, plen, prefix_kv, lengths=lengths)  # real tokens, row after row
            picked = hidden[[offsets[b] + p for b, p in zip(b_idx, p_idx)]]
            lp = torch.log_softmax(self.decoder.logits(picked).float(), dim=-1)
            self.stats.forwards += 1
            self.stats.head_positions += len(b_idx)
        else:
            kwargs = {"use_cache": prefix_kv is not None}
            if prefix_kv is not None:
                kwargs[self.cache_kwarg] = self._expanded_cache(prefix_kv, len(batch))
            lp, _ = self._positions_logprobs(ids.to(self.device), b_idx, p_idx, **kwargs)
        self.stats.forward_s += time.perf_counter() - t0  # lp is on the CPU: the device has finished
        for j, (_, row, p) in enumerate(slots):
            for tok in row.targets[p]:
                row.logprobs[(p, tok)] = lp[j, tok].item()
        self.stats.row_tokens += sum(len(r.ids) for r in batch)
        self.stats.padded_tokens += len(batch) * width
        return []
