"""Runs panopticapi's pq_compute and prints the result as JSON (test oracle)."""
import json
import sys

from panopticapi.evaluation import pq_compute

gt_json, pred_json, gt_folder, pred_folder = sys.argv[1:5]
result = pq_compute(gt_json, pred_json, gt_folder=gt_folder, pred_folder=pred_folder)
print("RESULT " + json.dumps({k: result[k] for k in ("All", "Things", "Stuff")}))
