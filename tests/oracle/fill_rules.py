"""Fill-rule oracle for tests/interop_fill_rules.rs.

`fill_rules.py rules SPEC`: SPEC is {"w", "h", "polygons": [[x0, y0, x1, y1, ...], ...]}
in pixel units. For each polygon prints the pixels of
  - opencv: Ultralytics' polygon2mask (np.int32 truncation, cv2.fillPoly),
  - pil: LabelMe's shape_to_mask (PIL ImageDraw.polygon(fill=1, outline=1) on mode L).
`fill_rules.py yolo FOLDER`: reads FOLDER/labels/*.txt the way Ultralytics does (float32
values times the image size from FOLDER/limner_yolo.json) and prints each line's mask.
Masks are printed as row-major runs [start, length, ...]. Output: one line "RESULT <json>".
"""
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw


def runs(mask):
    flat = mask.reshape(-1).astype(np.int8)
    d = np.diff(np.concatenate([[0], flat, [0]]))
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    out = []
    for s, e in zip(starts, ends):
        out += [int(s), int(e - s)]
    return out


def polygon2mask(imgsz, polygons, color=1):
    # ultralytics.data.utils.polygon2mask with downsample_ratio=1
    mask = np.zeros(imgsz, dtype=np.uint8)
    polygons = np.asarray(polygons, dtype=np.int32)
    polygons = polygons.reshape((polygons.shape[0], -1, 2))
    cv2.fillPoly(mask, polygons, color=color)
    return mask


def shape_to_mask(img_shape, points):
    # labelme.utils.shape.shape_to_mask, shape_type "polygon"
    mask = np.zeros(img_shape[:2], dtype=np.uint8)
    mask = Image.fromarray(mask)
    draw = ImageDraw.Draw(mask)
    xy = [tuple(p) for p in points]
    draw.polygon(xy=xy, outline=1, fill=1)
    return np.array(mask, dtype=bool)


def rules(spec_path):
    spec = json.load(open(spec_path))
    h, w = spec["h"], spec["w"]
    out = []
    for flat in spec["polygons"]:
        pts = np.array(flat, dtype=np.float64).reshape(-1, 2)
        cv = polygon2mask((h, w), [pts])
        pil = shape_to_mask((h, w), pts.tolist())
        out.append({"opencv": runs(cv), "pil": runs(pil)})
    return {"versions": {"cv2": cv2.__version__, "PIL": Image.__version__}, "masks": out}


def yolo(folder):
    side = json.load(open(os.path.join(folder, "limner_yolo.json")))
    out = {}
    for im in side:
        w, h = im["width"], im["height"]
        path = os.path.join(folder, "labels", im["stem"] + ".txt")
        with open(path) as f:
            lb = [x.split() for x in f.read().strip().splitlines() if len(x)]
        masks = []
        for x in lb:
            seg = np.array(x[1:], dtype=np.float32).reshape(-1, 2)
            seg = seg * np.array([w, h], dtype=np.float32)
            masks.append(runs(polygon2mask((h, w), [seg])))
        out[im["file_name"]] = masks
    return {"versions": {"cv2": cv2.__version__}, "images": out}


if __name__ == "__main__":
    mode, arg = sys.argv[1], sys.argv[2]
    result = rules(arg) if mode == "rules" else yolo(arg)
    print("RESULT " + json.dumps(result))
