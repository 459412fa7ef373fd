"""pycocotools oracle for Limner's COCO instance code.

Usage: coco_masks.py POLYGONS.json INSTANCES.json
POLYGONS.json: {"h": H, "w": W, "polygons": [[x, y, ...], ...]}
Prints one line "RESULT <json>": for every polygon its pycocotools area and compressed
RLE string, and for every annotation of INSTANCES.json (a COCO instance file) the area of
pycocotools' annToMask.
"""
import json
import sys

from pycocotools import mask as maskUtils
from pycocotools.coco import COCO

poly_path, inst_path = sys.argv[1:3]
with open(poly_path) as f:
    spec = json.load(f)
h, w = spec["h"], spec["w"]
polys = []
for p in spec["polygons"]:
    rle = maskUtils.merge(maskUtils.frPyObjects([p], h, w))
    polys.append({"area": int(maskUtils.area(rle)), "counts": rle["counts"].decode("ascii")})
coco = COCO(inst_path)
anns = {str(a["id"]): int(coco.annToMask(a).sum()) for a in coco.dataset["annotations"]}
print("RESULT " + json.dumps({"polygons": polys, "annotations": anns}))
