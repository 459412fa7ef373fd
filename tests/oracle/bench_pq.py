"""Times panopticapi's pq_compute on the files `cargo bench --bench qa` writes.

    python tests/oracle/bench_pq.py target/qa-bench

Prints panopticapi's PQ (to check both tools scored the same thing) and the seconds
pq_compute took (it runs one worker process per CPU, as shipped)."""
import contextlib
import io
import sys
import time

from panopticapi.evaluation import pq_compute

d = sys.argv[1]
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    r = pq_compute(f"{d}/gold.json", f"{d}/pred.json", gt_folder=f"{d}/gold", pred_folder=f"{d}/pred")
s = time.perf_counter() - t
print(f"panopticapi PQ {r['All']['pq']:.6f}")
print(f"SECONDS {s:.3f}")
