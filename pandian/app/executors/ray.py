"""The Ray executor: a plan's units on a Ray cluster, one actor per model variant per worker slot, so that weights
load once per worker and stay loaded for all of that variant's units.

Scheduling, in this driver (Ray places the actors and detects dead nodes; this loop only decides what runs next):
- a slot is what one actor needs (the plan's `resources`: cpus, gpus, memory from the estimator); at most as many
  actors live as the cluster's alive nodes have slots;
- a free slot goes first to a variant that has no actor yet (every model loads as few times as it can), then to a
  variant with more pending units than actors about to take one; among equals, the variant holding the largest
  pending unit (estimated cost: 2 x parameters x tokens) first;
- an idle actor takes its variant's largest pending unit; when its variant has none left it is killed, freeing its
  slot for another variant (and an actor still loading such a variant is stopped at once);
- an actor lost with its node (or any failed attempt) puts its unit back in the queue, up to `max_attempts` tries.
  The retry skips every record the lost attempt committed (the store is keyed by run + question), so nothing is
  computed twice, lost, or stored twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pandian.app.executors import PlanOutcome, PlanProgress, UnitOutcome
from pandian.app.executors.worker import VariantWorker
from pandian.store import is_postgres_url

POLL_S = 0.5          # progress refresh and wait granularity
CAPACITY_EVERY_S = 5  # how often the cluster's size is read again (nodes join and leave)


class ExecutorError(RuntimeError):
    """The plan cannot run on this cluster as configured; the message says why."""


class ProgressSink:
    """Actors report committed records here; the driver collects the increments."""

    def __init__(self):
        self.n = 0

    def add(self, n: int) -> None:
        self.n += n

    def take(self) -> int:
        n, self.n = self.n, 0
        return n


class RayVariantWorker(VariantWorker):
    def __init__(self, *args):
        import ray

        super().__init__(*args)
        self.where = f"{self.where}/{ray.get_runtime_context().get_node_id()[:8]}"  # a machine can hold two nodes

    def run_unit(self, unit, sink) -> dict:
        return self.run(unit, lambda n: sink.add.remote(n))


@dataclass
class Slot:
    handle: object
    variant: str
    loaded: bool = False
    unit: object = None
    worker: str = "?"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: pip install 'pandian[ray]'") from None
    return ray


def actor_resources(plan, variant) -> dict:
    """Ray resource requests of one worker actor: the plan's cpus and gpus, and host memory as the plan says or as
    the memory estimator predicts from the model's config (Ray then never packs more models on a node than fit)."""
    from pandian.app.plan_check import memory_gb

    r = plan.resources
    out = {"num_cpus": r.cpus, "num_gpus": r.gpus}
    memory = r.memory_gb if r.memory_gb is not None else memory_gb(variant)
    if memory:
        out["memory"] = int(memory * 2**30)
    return out


def capacity(ray, needs: dict) -> int:
    """How many actors with these needs the cluster's alive nodes hold at once."""
    total = 0
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        fits = [res.get(name, 0) // need for name, need in
                (("CPU", needs["num_cpus"]), ("GPU", needs["num_gpus"]), ("memory", needs.get("memory", 0))) if need]
        total += int(min(fits)) if fits else 1
    return total


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable head for minutes; a closed port is said at once."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except (OSError, ValueError) as e:
        raise ExecutorError(f"no Ray cluster answers at {address} ({getattr(e, 'strerror', None) or e}): start one "
                            "with `ray start --head`, then pass the address it prints to --ray-address") from None


def check_store(ray, store_location: str) -> None:
    """A SQLite file is local to one machine: actors on other machines would each write a file of their own."""
    hosts = {n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}
    if not is_postgres_url(store_location) and len(hosts) > 1:
        raise ExecutorError(f"this cluster spans {len(hosts)} machines ({', '.join(sorted(hosts))}) and the results "
                            f"store is a SQLite file ({store_location}) that only this machine sees: pass "
                            "--db postgresql://USER@HOST/DB, a server every node reaches")


def run_on_ray(plan, units, store_location: str, progress: PlanProgress, address: str | None = None,
               max_attempts: int = 3) -> PlanOutcome:
    if address and ":" in address:
        _check_reachable(address)
    ray = _import_ray()
    t0 = time.perf_counter()
    if not is_postgres_url(store_location):  # actors run in other folders
        store_location = str(Path(store_location).resolve())
    # log_to_driver off: each worker's library warnings would interleave with the progress bar
    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        check_store(ray, store_location)
        return _Scheduler(ray, plan, units, store_location, progress, max_attempts).run(t0)
    finally:
        ray.shutdown()


class _Scheduler:
    def __init__(self, ray, plan, units, store_location, progress, max_attempts):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray, self.plan, self.store_location, self.progress = ray, plan, store_location, progress
        self.max_attempts = max_attempts
        here = ray.get_runtime_context().get_node_id()
        # pinned beside this driver (a soft preference was seen to land on another node): progress must not die
        # with a worker node
        self.sink = ray.remote(ProgressSink).options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
        self.pending: dict[str, list] = {}
        for u in sorted(units, key=lambda u: u.cost, reverse=True):
            self.pending.setdefault(u.variant.key, []).append(u)
        self.variants = {u.variant.key: u.variant for u in units}
        self.needs = {k: actor_resources(plan, v) for k, v in self.variants.items()}
        self.slots: dict[object, Slot] = {}      # waiting ref -> its slot
        self.idle: list[Slot] = []
        self.attempts: dict[str, int] = {}
        self.outcome = PlanOutcome("ray")
        self.capacity, self.capacity_at = 0, 0.0

    # ------------------------------------------------------------------ decisions

    def _live(self) -> list[Slot]:
        return list(self.slots.values()) + self.idle

    def _refresh_capacity(self) -> None:
        if time.monotonic() - self.capacity_at > CAPACITY_EVERY_S:
            sizes = [capacity(self.ray, n) for n in self.needs.values()]
            self.capacity, self.capacity_at = min(sizes) if sizes else 0, time.monotonic()

    def _spawn(self) -> None:
        """Fill free slots: first a variant that has no actor (so each model loads as few times as it can), then a
        second actor for a variant with more pending units than actors about to take one; largest unit first."""
        while len(self._live()) < self.capacity:
            live = self._live()
            actors = {k: sum(1 for s in live if s.variant == k) for k in self.pending}
            waiting = {k: sum(1 for s in live if s.variant == k and s.unit is None) for k in self.pending}
            wanting = [k for k, us in self.pending.items() if len(us) > waiting[k]]
            if not wanting:
                return
            key = min(wanting, key=lambda k: (actors[k], -self.pending[k][0].cost))
            handle = self.ray.remote(RayVariantWorker).options(max_restarts=0, **self.needs[key]).remote(
                self.variants[key], self.store_location, "cuda" if self.plan.resources.gpus else self.plan.device)
            self.outcome.actors_started += 1
            self.slots[handle.ready.remote()] = Slot(handle, key)

    def _stop_needless_loads(self) -> None:
        """An actor still loading a variant whose units have all been taken would load for nothing."""
        for ref, slot in list(self.slots.items()):
            if not slot.loaded and slot.variant not in self.pending:
                del self.slots[ref]
                self.ray.kill(slot.handle)

    def _assign(self) -> None:
        for slot in list(self.idle):
            self.idle.remove(slot)
            queue = self.pending.get(slot.variant)
            if not queue:
                self.ray.kill(slot.handle)  # its variant is done here: free the slot for another
                continue
            slot.unit = queue.pop(0)
            if not queue:
                del self.pending[slot.variant]
            self.attempts[slot.unit.key] = self.attempts.get(slot.unit.key, 0) + 1
            self.slots[slot.handle.run_unit.remote(slot.unit, self.sink)] = slot

    def _requeue(self, unit, why: str) -> None:
        if self.attempts[unit.key] >= self.max_attempts:
            self.outcome.failed[unit.key] = why
            return
        self.outcome.retried += 1
        queue = self.pending.setdefault(unit.variant.key, [])
        queue.append(unit)
        queue.sort(key=lambda u: u.cost, reverse=True)
        self.progress.note(f"retrying {unit.key} ({why})")

    # ------------------------------------------------------------------ events

    def _finished(self, ref, slot: Slot) -> None:
        ray = self.ray
        try:
            value = ray.get(ref)
        except ray.exceptions.RayActorError as e:  # the actor is gone: node lost, process killed, or load failed
            ray.kill(slot.handle)
            if e.actor_init_failed:
                self._load_failed(slot, e)
            else:
                self.outcome.workers_lost += 1
                doing = f"running {slot.unit.key}" if slot.unit is not None else f"loading {slot.variant}"
                self.progress.note(f"lost the worker {doing} on {slot.worker}")
            if slot.unit is not None:
                self._requeue(slot.unit, f"worker lost: {type(e).__name__}")
            return
        except ray.exceptions.RayTaskError as e:  # the unit raised; the actor itself is fine
            self._requeue(slot.unit, str(e.cause if e.cause is not None else e).splitlines()[0])
            slot.unit = None
            self.idle.append(slot)
            return
        if slot.unit is None:  # the actor finished loading
            slot.loaded, slot.worker = True, value
        else:
            a = self.attempts[slot.unit.key]
            self.outcome.units.append(UnitOutcome(slot.unit.key, value["run_id"], value["questions"],
                                                  value["computed"], a, value["worker"]))
            slot.unit = None
        self.idle.append(slot)

    def _load_failed(self, slot: Slot, error) -> None:
        n = self.attempts.get(f"load {slot.variant}", 0) + 1
        self.attempts[f"load {slot.variant}"] = n
        if n >= self.max_attempts:  # the model does not load anywhere: its units cannot run
            for unit in self.pending.pop(slot.variant, []):
                self.outcome.failed[unit.key] = f"the model did not load: {str(error).splitlines()[-1]}"

    def run(self, t0: float) -> PlanOutcome:
        ray = self.ray
        self.progress.start()
        while True:
            self._refresh_capacity()
            self._assign()
            self._stop_needless_loads()
            self._spawn()
            if not self.slots and not self.pending:
                break
            if not self.slots:
                need = next(iter(self.needs.values()))
                raise ExecutorError(f"no node of this cluster can host a worker needing {need}: lower the plan's "
                                    "resources or add nodes")
            ready, _ = ray.wait(list(self.slots), num_returns=1, timeout=POLL_S)
            for ref in ready:
                self._finished(ref, self.slots.pop(ref))
            done = ray.get(self.sink.take.remote())
            if done:
                self.progress.advance(done)
        self.progress.advance(ray.get(self.sink.take.remote()))
        self.outcome.wall_s = time.perf_counter() - t0
        return self.outcome

