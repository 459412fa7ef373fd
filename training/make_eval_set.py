"""Write the BSDS validation eval set (object-like regions) for `limner bench noc`.

    python training/make_eval_set.py DIR [--horses] [--max-images N]

Layout: DIR/images/<stem>.jpg (byte copies of the originals) and DIR/masks/<stem>__<k>.png
(8-bit grayscale, 0 = background, 255 = object, one PNG per object, k = 0, 1, ...).
The objects are exactly those eval_noc.py uses (common.eval_set).
"""
import argparse
import os
import shutil
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import eval_set  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--stuff", action="store_true",
                    help="also keep background-like BSDS regions (touching 3+ sides or 2 opposite sides)")
    ap.add_argument("--horses", action="store_true")
    ap.add_argument("--source", choices=["ecssd", "coco", "camvid"],
                    help="the held-out part of a new source instead of BSDS")
    ap.add_argument("--max-images", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.dir, "images"), exist_ok=True)
    os.makedirs(os.path.join(args.dir, "masks"), exist_ok=True)
    n_obj = 0
    items = eval_set(args.max_images or None, horses=args.horses, stuff=args.stuff, source=args.source)
    for stem, path, masks in items:
        shutil.copyfile(path, os.path.join(args.dir, "images", stem + ".jpg"))
        for k, m in enumerate(masks):
            Image.fromarray((m.astype(np.uint8) * 255), mode="L").save(
                os.path.join(args.dir, "masks", f"{stem}__{k}.png"))
            n_obj += 1
    print(f"wrote {len(items)} images, {n_obj} masks to {args.dir}")


if __name__ == "__main__":
    main()
