"""Three chained assets that do nothing: the baseline for the per-run overhead of daily_blogpost.

The shape matches daily_blogpost (an asset job of three chained assets, one step each), so the
difference between the two runs is the project's own code: imports, resources and the calls to
the sandbox servers.
"""

import dagster as dg


@dg.asset
def first() -> None:
    return None


@dg.asset(deps=[first])
def second() -> None:
    return None


@dg.asset(deps=[second])
def third() -> None:
    return None


_SELECTION = dg.AssetSelection.assets(first, second, third)

# The executor daily_blogpost ships with.
trivial = dg.define_asset_job("trivial", selection=_SELECTION, executor_def=dg.in_process_executor)

# Dagster's default executor: one process per step, each re-importing this module.
trivial_multiprocess = dg.define_asset_job(
    "trivial_multiprocess", selection=_SELECTION, executor_def=dg.multiprocess_executor
)

defs = dg.Definitions(assets=[first, second, third], jobs=[trivial, trivial_multiprocess])
