"""NoC evaluation of an exported ONNX model with onnxruntime (standard click protocol + zoom-in).

    python training/eval_noc.py --model models/limner-click-v1.onnx [--max-images 10] [--horses]

Protocol: first click at the interior-most point of the object (argmax of the distance transform of the
1-px zero-padded mask); each next click at the interior-most point of the larger error region (FN ->
positive, FP -> negative); the previous prediction is fed back (guidance ch2); max 20 clicks.
NoC@85/90 = first click count with IoU >= 0.85/0.90 (20 if never). mIoU@1 = mean IoU after 1 click.

Input policy (the runtime's): click 1 = whole image resized to long side 320 (--first-long), zero-padded bottom/right to a
multiple of 32. Clicks >= 2 = crop around (current mask bbox U all clicks), expanded 1.4x about its centre,
each side at least 200 px (clamped to the image), shifted inside the image, resized so its long side is
480, zero-padded to a multiple of 32; the prediction is pasted back into the crop, the probability map
outside the crop is kept.
"""
import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import MEAN, STD, draw_disk, eval_set, interior_point, iou, load_rgb, next_click  # noqa: E402

LONG = 480
FIRST_LONG = 320  # whole-image first prompt: objects then span sizes seen in training (256-384 crops)


def pad32(n):
    return max(64, (n + 31) // 32 * 32)


class Runner:
    def __init__(self, path, threads=2):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.ms = []

    def predict(self, img, prev, clicks, box, x0, y0, x1, y1, long_side=LONG):
        """Run the model on the crop [x0,x1)x[y0,y1) of img (uint8 HxWx3). prev: full-res prob map.
        clicks: list of (x, y, pos) in image coords. box: (bx0,by0,bx1,by1) image coords or None.
        Returns the probability map of the crop at crop resolution."""
        cw, ch = x1 - x0, y1 - y0
        s = long_side / max(cw, ch)
        w, h = max(1, round(cw * s)), max(1, round(ch * s))
        W, H = pad32(w), pad32(h)
        crop = img[y0:y1, x0:x1]
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        im = cv2.resize(crop, (w, h), interpolation=interp).astype(np.float32) / 255.0
        x = np.zeros((1, 3, H, W), np.float32)
        x[0, :, :h, :w] = ((im - MEAN) / STD).transpose(2, 0, 1)
        g = np.zeros((1, 4, H, W), np.float32)
        sx, sy = w / cw, h / ch
        for cx, cy, pos in clicks:
            draw_disk(g[0, 0 if pos else 1], (cx - x0) * sx, (cy - y0) * sy)
        if prev is not None:
            g[0, 2, :h, :w] = cv2.resize(prev[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
        if box is not None:
            bx0, by0, bx1, by1 = box
            X0, Y0 = int(round((bx0 - x0) * sx)), int(round((by0 - y0) * sy))
            X1, Y1 = int(round((bx1 - x0) * sx)), int(round((by1 - y0) * sy))
            g[0, 3, max(0, Y0):min(h, Y1), max(0, X0):min(w, X1)] = 1
        g[0, :, h:, :] = 0
        g[0, :, :, w:] = 0
        t = time.perf_counter()
        logits = self.sess.run(["logits"], {"image": x, "guidance": g})[0][0, 0, :h, :w]
        self.ms.append((time.perf_counter() - t) * 1000)
        logits = cv2.resize(logits, (cw, ch), interpolation=cv2.INTER_LINEAR)
        return 1.0 / (1.0 + np.exp(-logits))


def zoom_box(mask, clicks, W, H, expand=1.4, min_side=200):
    xs = [c[0] for c in clicks]
    ys = [c[1] for c in clicks]
    if mask.any():
        yy, xx = np.nonzero(mask)
        xs += [xx.min(), xx.max() + 1]
        ys += [yy.min(), yy.max() + 1]
    bx0, bx1, by0, by1 = min(xs), max(xs), min(ys), max(ys)
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
    bw = min(W, max((bx1 - bx0) * expand, min_side))
    bh = min(H, max((by1 - by0) * expand, min_side))
    x0 = int(round(min(max(cx - bw / 2, 0), W - bw)))
    y0 = int(round(min(max(cy - bh / 2, 0), H - bh)))
    return x0, y0, min(W, x0 + int(round(bw))), min(H, y0 + int(round(bh)))


def run_object(runner, img, gt, max_clicks=20, zoom=True, zoom_long=LONG, first_long=FIRST_LONG):
    H, W = gt.shape
    clicks = []
    prob = np.zeros((H, W), np.float32)
    pred = np.zeros((H, W), bool)
    ious = []
    for k in range(max_clicks):
        if k == 0:
            x, y, _ = interior_point(gt)
            clicks.append((x, y, True))
        else:
            c = next_click(pred, gt)
            if c is None:
                ious.append(ious[-1])
                continue
            clicks.append(c)
        if k == 0 or not zoom:
            p = runner.predict(img, prob if k > 0 else None, clicks, None, 0, 0, W, H,
                               first_long if k == 0 else zoom_long)
            prob = p
        else:
            x0, y0, x1, y1 = zoom_box(pred, clicks, W, H)
            p = runner.predict(img, prob, clicks, None, x0, y0, x1, y1, zoom_long)
            prob = prob.copy()
            prob[y0:y1, x0:x1] = p
        pred = prob > 0.5
        ious.append(iou(pred, gt))
    return ious


def noc(ious, thr, max_clicks):
    for i, v in enumerate(ious):
        if v >= thr:
            return i + 1
    return max_clicks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/limner-click-v1.onnx")
    ap.add_argument("--max-images", type=int, default=0)
    ap.add_argument("--max-clicks", type=int, default=20)
    ap.add_argument("--stuff", action="store_true",
                    help="also keep background-like BSDS regions (touching 3+ sides or 2 opposite sides)")
    ap.add_argument("--horses", action="store_true", help="evaluate on the held-out horses instead of BSDS")
    ap.add_argument("--no-zoom", action="store_true")
    ap.add_argument("--zoom-long", type=int, default=LONG, help="long side of the zoom-in crops (clicks >= 2)")
    ap.add_argument("--first-long", type=int, default=FIRST_LONG, help="long side for the first (whole-image) click")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    runner = Runner(args.model, args.threads)
    items = eval_set(args.max_images or None, horses=args.horses, stuff=args.stuff)
    all_ious, box_ious = [], []
    t0 = time.time()
    for stem, path, masks in items:
        img = load_rgb(path)
        for m in masks:
            all_ious.append(run_object(runner, img, m, args.max_clicks, zoom=not args.no_zoom,
                                       zoom_long=args.zoom_long, first_long=args.first_long))
            # box-only prompt (tight GT box, whole image input)
            ys, xs = np.nonzero(m)
            p = runner.predict(img, None, [], (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1),
                               0, 0, m.shape[1], m.shape[0])
            box_ious.append(iou(p > 0.5, m))
    A = np.array(all_ious)
    res = {
        "model": args.model,
        "set": "horses" if args.horses else ("bsds-all-regions" if args.stuff else "bsds-object-like"),
        "images": len(items),
        "objects": len(A),
        "NoC@85": float(np.mean([noc(r, 0.85, args.max_clicks) for r in A])),
        "NoC@90": float(np.mean([noc(r, 0.90, args.max_clicks) for r in A])),
        "mIoU@1": float(A[:, 0].mean()),
        "mIoU@k": [round(float(v), 4) for v in A.mean(axis=0)[:10]],
        "mIoU_box_only": float(np.mean(box_ious)),
        "ms_per_click_model_median": float(np.median(runner.ms)),
        "ms_per_click_model_mean": float(np.mean(runner.ms)),
        "wall_s": round(time.time() - t0, 1),
        "zoom": not args.no_zoom,
        "zoom_long": args.zoom_long,
        "first_long": args.first_long,
    }
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
