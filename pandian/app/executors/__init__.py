"""Executors run a plan's units: `local` (this process, one variant loaded at a time) or `ray` (actors on a Ray
cluster, imported only when chosen). Both hand every unit to the same worker code (`worker.py`), which runs the one
run lifecycle, so a plan's records and run ids are the same whichever executor computed them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

EXECUTORS = ("local", "ray")


@dataclass
class PlanProgress:
    start: Callable[[], None] = lambda: None  # the executor is ready (Ray joined): computing begins
    advance: Callable[[int], None] = lambda n: None
    note: Callable[[str], None] = lambda message: None  # worker lost, unit retried...


@dataclass
class UnitOutcome:
    key: str
    run_id: str
    questions: int
    computed: int
    attempts: int = 1
    worker: str = "local"


@dataclass
class PlanOutcome:
    executor: str
    units: list[UnitOutcome] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # unit key -> why it gave up
    retried: int = 0           # unit attempts lost with a worker (or failed) and run again
    workers_lost: int = 0
    actors_started: int = 0
    wall_s: float = 0.0

    @property
    def computed(self) -> int:
        return sum(u.computed for u in self.units)


def run_units(plan, units, store_location: str, executor: str = "local", ray_address: str | None = None,
              progress: PlanProgress | None = None, **options) -> PlanOutcome:
    progress = progress or PlanProgress()
    if executor == "local":
        from pandian.app.executors.local import run_local

        return run_local(plan, units, store_location, progress)
    if executor == "ray":
        from pandian.app.executors.ray import run_on_ray

        return run_on_ray(plan, units, store_location, progress, ray_address, **options)
    raise ValueError(f"unknown executor '{executor}': use {' or '.join(EXECUTORS)}")
