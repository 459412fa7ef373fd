"""Tiny pre-labeling models for tests/prelabel.rs, and a numpy reference decode.

`prelabel_models.py OUT`: writes into OUT
  - semantic.onnx + semantic.json: a 1x1 convolution that maps colours to 3 classes
    (logits = 10 * rgb: red -> 0, green -> 1, blue -> 2);
  - yolo.onnx + yolo.json: a YOLO-seg-shaped model with fixed outputs (`output0`
    [1, 4 + 2 + 4, 6]: boxes, 2 class scores, 4 mask coefficients; `output1` [1, 4, 16, 16]
    prototypes), input `images` [1, 3, 64, 64];
  - yolo_reference.json: the masks Ultralytics' decode gives for an 80 x 48 image
    (score filter, class-wise NMS, sigmoid(coef . protos) cropped to the box at prototype
    size, bilinear upsampling, > 0.5, letterbox removed), as row-major runs.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

# --- semantic
w = np.zeros((3, 3, 1, 1), np.float32)
for c in range(3):
    w[c, c, 0, 0] = 10.0
g = helper.make_graph(
    [helper.make_node("Conv", ["pixel_values", "w"], ["logits"])],
    "semantic",
    [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, "h", "w"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, "h", "w"])],
    [numpy_helper.from_array(w, "w")],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save(m, os.path.join(out, "semantic.onnx"))
json.dump({
    "name": "colours", "kind": "semantic", "prompts": [],
    "files": {"model": "semantic.onnx"},
    "input": {"name": "pixel_values", "multiple": 32},
    "output": {"name": "logits"},
    "classes": {"0": 1, "1": None, "2": 2},
}, open(os.path.join(out, "semantic.json"), "w"))

# --- yolo-seg
rng = np.random.default_rng(5)
nc, nm, n = 2, 4, 6
det = np.zeros((1, 4 + nc + nm, n), np.float32)
boxes = [  # cx, cy, w, h (input pixels), class, score
    (20, 30, 24, 20, 0, 0.9),
    (22, 31, 24, 20, 0, 0.8),   # overlaps the first: removed by NMS
    (22, 31, 24, 20, 1, 0.7),   # same box, other class: kept
    (48, 36, 20, 16, 0, 0.6),
    (40, 20, 10, 10, 1, 0.1),   # below min_score
    (10, 50, 12, 12, 1, 0.4),
]
for j, (cx, cy, bw, bh, c, s) in enumerate(boxes):
    det[0, 0:4, j] = (cx, cy, bw, bh)
    det[0, 4 + c, j] = s
    det[0, 4 + nc:, j] = rng.normal(0, 2, nm)
protos = rng.normal(0, 1, (1, nm, 16, 16)).astype(np.float32)
g = helper.make_graph(
    [
        helper.make_node("Constant", [], ["output0"], value=numpy_helper.from_array(det)),
        helper.make_node("Constant", [], ["output1"], value=numpy_helper.from_array(protos)),
    ],
    "yolo",
    [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
    [
        helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(det.shape)),
        helper.make_tensor_value_info("output1", TensorProto.FLOAT, list(protos.shape)),
    ],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save(m, os.path.join(out, "yolo.onnx"))
json.dump({
    "name": "yolo-test", "kind": "yolo-seg", "prompts": [],
    "files": {"model": "yolo.onnx"},
    "input": {"name": "images", "size": [64, 64]},
    "output": {"name": "output0", "protos": "output1"},
    "classes": {"0": 1, "1": 2},
    "min_score": 0.25, "iou": 0.7,
}, open(os.path.join(out, "yolo.json"), "w"))


def box_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if ua <= 0 else inter / ua


W, H, IW, IH, MW, MH = 80, 48, 64, 64, 16, 16
scale = min(IW / W, IH / H)
nw, nh = round(W * scale), round(H * scale)
px, py = (IW - nw) // 2, (IH - nh) // 2
cands = []
for j in range(n):
    scores = det[0, 4:4 + nc, j]
    c = int(np.argmax(scores))
    s = float(scores[c])
    if s < 0.25:
        continue
    cx, cy, bw, bh = det[0, 0:4, j]
    cands.append((s, c, [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], det[0, 4 + nc:, j]))
cands.sort(key=lambda t: -t[0])
kept = []
for d in cands:
    if all(k[1] != d[1] or box_iou(k[2], d[2]) <= 0.7 for k in kept):
        kept.append(d)
masks = []
for s, c, b, coef in kept:
    logit = np.tensordot(coef, protos[0], axes=1)
    prob = 1 / (1 + np.exp(-logit))
    sb = [b[0] * MW / IW, b[1] * MH / IH, b[2] * MW / IW, b[3] * MH / IH]
    ys, xs = np.mgrid[0:MH, 0:MW].astype(np.float32)
    inside = (xs >= sb[0]) & (xs < sb[2]) & (ys >= sb[1]) & (ys < sb[3])
    prob = np.where(inside, prob, 0).astype(np.float32)
    # bilinear, align_corners=False, to the input size
    up = np.zeros((IH, IW), np.float32)
    for iy in range(IH):
        fy = min(max((iy + 0.5) * MH / IH - 0.5, 0), MH - 1)
        y0 = int(np.floor(fy)); y1 = min(y0 + 1, MH - 1); ay = fy - y0
        for ix in range(IW):
            fx = min(max((ix + 0.5) * MW / IW - 0.5, 0), MW - 1)
            x0 = int(np.floor(fx)); x1 = min(x0 + 1, MW - 1); ax = fx - x0
            up[iy, ix] = (prob[y0, x0] * (1 - ax) + prob[y0, x1] * ax) * (1 - ay) + \
                         (prob[y1, x0] * (1 - ax) + prob[y1, x1] * ax) * ay
    mask = np.zeros((H, W), bool)
    for y in range(H):
        iy = min(int(np.floor((y + 0.5) * scale + py)), IH - 1)
        for x in range(W):
            ix = min(int(np.floor((x + 0.5) * scale + px)), IW - 1)
            mask[y, x] = up[iy, ix] > 0.5
    flat = mask.reshape(-1).astype(np.int8)
    dd = np.diff(np.concatenate([[0], flat, [0]]))
    st, en = np.nonzero(dd == 1)[0], np.nonzero(dd == -1)[0]
    runs = []
    for a, e in zip(st, en):
        runs += [int(a), int(e - a)]
    masks.append({"class": c, "score": s, "runs": runs})
json.dump({"width": W, "height": H, "masks": masks}, open(os.path.join(out, "yolo_reference.json"), "w"))
print("RESULT ok")
