"""Builds the two projects behind the review screenshots (assets/review-*.png).

gold/ : the demo photos labeled with the shipped click model (box + click per object).
cur/  : the same labels as an annotator might deliver them: the cup boundary shifted,
        the saucer eroded, the spoon missing; status "done", tags and one pinned comment.

Usage: python assets/make_review_demo.py OUT_DIR  (needs numpy, opencv; target/release/limner)
"""
import json, shutil, subprocess, sys
from pathlib import Path

import cv2
import numpy as np

root = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1])
limner = root / "target/release/limner"
demo = root / "assets/demo"

ONTOLOGY = {"schema": "limner-ontology/1", "categories": [
    {"id": 1, "name": "cat", "color": "#e6194b", "isthing": True},
    {"id": 2, "name": "cup", "color": "#3cb44b", "isthing": True},
    {"id": 3, "name": "background", "color": "#4363d8", "isthing": False},
    {"id": 4, "name": "saucer", "color": "#f58231", "isthing": True},
    {"id": 5, "name": "spoon", "color": "#911eb4", "isthing": True},
]}
# (image, class, box, click)
OBJECTS = [
    ("coffee.png", 4, [72, 68, 482, 392], [120, 250]),
    ("coffee.png", 2, [168, 18, 412, 300], [290, 60]),
    ("coffee.png", 5, [322, 64, 426, 328], [365, 285]),
    ("chelsea.png", 1, [0, 0, 420, 300], [260, 200]),
]


def predict(image, box, click, tmp):
    prompts = tmp / "p.json"
    prompts.write_text(json.dumps({"box": box, "points": [{"x": click[0], "y": click[1]}]}))
    subprocess.run([limner, "predict", "--image", demo / "images" / image,
                    "--prompts", prompts, "--out", tmp / "m.png"], check=True)
    return cv2.imread(str(tmp / "m.png"), cv2.IMREAD_GRAYSCALE) > 127


def polygons(mask):
    cs, hier = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for i, c in enumerate(cs):
        if hier[0][i][3] != -1 or len(c) < 3:
            continue
        holes, j = [], hier[0][i][2]
        while j != -1:
            if len(cs[j]) >= 3:
                holes.append([[float(x), float(y)] for x, y in cs[j][:, 0]])
            j = hier[0][j][0]
        polys.append({"outer": [[float(x), float(y)] for x, y in c[:, 0]], "holes": holes})
    return polys


def write(project, masks, status, extra):
    (project / "images").mkdir(parents=True, exist_ok=True)
    (project / "annotations").mkdir(exist_ok=True)
    shutil.copy(demo / "limner.json", project / "limner.json")
    (project / "ontology.json").write_text(json.dumps(ONTOLOGY, indent=1))
    for image in ["coffee.png", "chelsea.png"]:
        shutil.copy(demo / "images" / image, project / "images" / image)
        h, w = cv2.imread(str(demo / "images" / image)).shape[:2]
        segs = []
        for cat, m in masks.get(image, []):
            segs.append({"id": len(segs) + 1, "category_id": cat, "z": len(segs),
                         "geometry": {"type": "polygons", "polygons": polygons(m)}})
        doc = {"schema": "limner-annotation/1",
               "image": {"file_name": image, "width": w, "height": h},
               "status": status, "segments": segs, **extra.get(image, {})}
        (project / "annotations" / f"{image}.json").write_text(json.dumps(doc))


tmp = out / "tmp"
tmp.mkdir(parents=True, exist_ok=True)
gold = {}
for image, cat, box, click in OBJECTS:
    gold.setdefault(image, []).append((cat, predict(image, box, click, tmp)))
write(out / "gold", gold, "reviewed", {i: {"gold": True} for i in gold})

k = np.ones((9, 9), np.uint8)
cur = {}
for image, segs in gold.items():
    cur[image] = []
    for cat, m in segs:
        if cat == 5:
            continue  # the annotator missed the spoon
        if cat == 2:
            m = np.roll(m, (6, 8), axis=(0, 1))  # cup boundary off by a few pixels
        if cat == 4:
            m = cv2.erode(m.astype(np.uint8), k) > 0  # saucer too tight
        if cat == 1:
            m = cv2.dilate(m.astype(np.uint8), k) > 0  # cat too loose
        cur[image].append((cat, m))
tags = {"coffee.png": {"tags": {"scene": "indoor", "device": "phone-a"},
                       "comments": [{"text": "spoon missing?", "author": "qa-lead",
                                     "at": [372.0, 280.0]}]},
        "chelsea.png": {"tags": {"scene": "indoor", "device": "dslr"}}}
write(out / "cur", cur, "done", tags)
shutil.rmtree(tmp)
# OpenCV contours may touch themselves; Limner's repair replaces those by exact polygons.
for project in ["gold", "cur"]:
    subprocess.run([limner, "validate", "--repair", out / project], check=True)
print(out / "gold", out / "cur")
