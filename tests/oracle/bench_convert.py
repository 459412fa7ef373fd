"""pycocotools baseline for benches/convert.rs: the same conversions in Python.

Usage: bench_convert.py target/bench-convert/instances.json [runs]
coco-instance -> coco-panoptic: annToRLE + decode per annotation, paint in order, write
the RGB PNG (PIL) and the JSON. coco-panoptic -> coco-instance: read each PNG, one mask
per segment, encode with pycocotools, write the JSON. Prints the median seconds of each.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
from PIL import Image
from pycocotools import mask as maskUtils
from pycocotools.coco import COCO

src = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
out_dir = os.path.join(os.path.dirname(src), "py")
png_dir = os.path.join(out_dir, "panoptic")
os.makedirs(png_dir, exist_ok=True)


def to_panoptic():
    coco = COCO(src)
    anns_out = []
    for img in coco.dataset["images"]:
        h, w = img["height"], img["width"]
        ids = np.zeros((h, w), dtype=np.uint32)
        infos = []
        for a in coco.imgToAnns[img["id"]]:
            m = maskUtils.decode(coco.annToRLE(a)).astype(bool)
            sid = a.get("limner_segment_id", a["id"])
            ids[m] = sid
            infos.append({"id": sid, "category_id": a["category_id"], "iscrowd": a["iscrowd"],
                          "area": int(m.sum()), "bbox": list(maskUtils.toBbox(coco.annToRLE(a)))})
        rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
        name = os.path.splitext(img["file_name"])[0] + ".png"
        Image.fromarray(rgb).save(os.path.join(png_dir, name), compress_level=1)
        anns_out.append({"image_id": img["id"], "file_name": name, "segments_info": infos})
    with open(os.path.join(out_dir, "panoptic.json"), "w") as f:
        json.dump({"images": coco.dataset["images"], "annotations": anns_out,
                   "categories": coco.dataset["categories"]}, f)


def to_instances():
    with open(os.path.join(out_dir, "panoptic.json")) as f:
        pan = json.load(f)
    out = []
    for ann in pan["annotations"]:
        rgb = np.asarray(Image.open(os.path.join(png_dir, ann["file_name"])), dtype=np.uint32)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        for s in ann["segments_info"]:
            m = np.asfortranarray((ids == s["id"]).astype(np.uint8))
            rle = maskUtils.encode(m)
            rle["counts"] = rle["counts"].decode("ascii")
            out.append({"id": len(out) + 1, "image_id": ann["image_id"], "category_id": s["category_id"],
                        "iscrowd": s["iscrowd"], "segmentation": rle, "area": int(maskUtils.area(rle)),
                        "bbox": list(maskUtils.toBbox(rle))})
    with open(os.path.join(out_dir, "instances_back.json"), "w") as f:
        json.dump({"images": pan["images"], "annotations": out, "categories": pan["categories"]}, f)


for name, fn in [("coco-instance -> coco-panoptic", to_panoptic), ("coco-panoptic -> coco-instance", to_instances)]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    print(f"{name}: median {statistics.median(times):.3f} s over {runs} runs")
