"""The embedded executor: this process runs every unit, one model variant loaded at a time, largest units first."""

from __future__ import annotations

import gc
import time

from pandian.app.executors import PlanOutcome, PlanProgress, UnitOutcome
from pandian.app.executors.worker import VariantWorker


def run_local(plan, units, store_location: str, progress: PlanProgress) -> PlanOutcome:
    t0 = time.perf_counter()
    outcome = PlanOutcome("local")
    progress.start()
    groups: dict[str, list] = {}
    for u in sorted(units, key=lambda u: u.cost, reverse=True):
        groups.setdefault(u.variant.key, []).append(u)
    for group in groups.values():  # the variant with the largest unit first, as the Ray executor schedules
        worker = VariantWorker(group[0].variant, store_location, plan.device)
        outcome.actors_started += 1
        try:
            for unit in group:
                r = worker.run(unit, progress.advance)
                outcome.units.append(UnitOutcome(unit.key, r["run_id"], r["questions"], r["computed"]))
        finally:
            worker.close()
            del worker
            gc.collect()  # release one variant's weights before the next loads
    outcome.wall_s = time.perf_counter() - t0
    return outcome
