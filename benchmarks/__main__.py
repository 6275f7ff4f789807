"""Run every benchmark, or those named: ``python -m benchmarks [load ...]``."""

from __future__ import annotations

import sys

from benchmarks import (
    bench_835,
    bench_claims,
    bench_dask,
    bench_load,
    bench_patch,
    bench_pg_lock,
    bench_pipeline,
    bench_price,
    bench_process,
    bench_reconcile,
    bench_scrub,
)

BENCHES = {"load": bench_load.run, "scrub": bench_scrub.run_million, "udf": bench_scrub.run_udf,
           "price": bench_price.run, "claims": bench_claims.run_write, "batch": bench_claims.run_batch_bench, "pipeline": bench_pipeline.run,
           "patch": lambda: (bench_patch.run(openpyxl=True), bench_patch.run_rows()),
           "process": bench_process.run, "835": bench_835.run, "reconcile": bench_reconcile.run,
           "pglock": bench_pg_lock.run, "dask": bench_dask.run}


def main(argv: list[str]) -> None:
    names = argv or list(BENCHES)
    for name in names:
        if name not in BENCHES:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
        BENCHES[name]()
        print()


main(sys.argv[1:])
