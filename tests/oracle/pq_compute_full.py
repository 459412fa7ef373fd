"""Runs panopticapi's pq_compute and prints every figure as JSON: All / Things / Stuff
and per_class (test oracle for `limner qa compare`)."""
import contextlib
import io
import json
import sys

from panopticapi.evaluation import pq_compute

gt_json, pred_json, gt_folder, pred_folder = sys.argv[1:5]
with contextlib.redirect_stdout(io.StringIO()):
    result = pq_compute(gt_json, pred_json, gt_folder=gt_folder, pred_folder=pred_folder)
print("RESULT " + json.dumps({k: result[k] for k in ("All", "Things", "Stuff", "per_class")}))
