"""Shared helpers: dataset paths, validation split, prompt rasterization (exact contract), click
simulation, and the BSDS "object-like region" eval set."""
import os

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
# LIMNER_SHARED points elsewhere when the repo travels without its ../shared (e.g. to a GPU machine)
SHARED = os.environ.get("LIMNER_SHARED") or os.path.normpath(os.path.join(HERE, "..", "..", "shared"))
BSDS = os.path.join(SHARED, "data", "bsds500")
HORSES = os.path.join(SHARED, "data", "weizmann_horses")
ECSSD = os.path.join(SHARED, "data", "ecssd")
COCO128 = os.path.join(SHARED, "data", "coco128-seg")
CAMVID = os.path.join(SHARED, "data", "camvid")
# CamVid classes that are countable objects (car, pedestrian, bicyclist, sign, pole) vs stuff; 11 = void
CAMVID_THINGS = (2, 6, 8, 9, 10)
CAMVID_VOID = 11
# CamVid is split by sequence (consecutive frames are near-duplicates): 0006R0 is held out
CAMVID_VAL_SEQ = "0006R0"

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
CLICK_R = 5.0
STROKE_R = 3.0


def bsds_ids():
    return sorted(f[:-4] for f in os.listdir(os.path.join(BSDS, "images")) if f.endswith(".jpg"))


def horse_ids():
    return sorted(f[:-4] for f in os.listdir(os.path.join(HORSES, "images")) if f.endswith(".jpg"))


def ecssd_ids():
    return sorted(f[:-4] for f in os.listdir(os.path.join(ECSSD, "images")) if f.endswith(".jpg"))


def coco_ids():
    """coco128-seg images that have a label file (two have none; two labels have no image)."""
    imgs = {f[:-4] for f in os.listdir(os.path.join(COCO128, "images")) if f.endswith(".jpg")}
    labs = {f[:-4] for f in os.listdir(os.path.join(COCO128, "labels")) if f.endswith(".txt")}
    return sorted(imgs & labs)


def camvid_ids():
    return sorted(f[:-4] for f in os.listdir(os.path.join(CAMVID, "images")) if f.endswith(".jpg"))


def val_ecssd():
    """every 10th sorted ECSSD id"""
    return ecssd_ids()[::10]


def val_coco():
    """every 10th sorted coco128-seg id"""
    return coco_ids()[::10]


def val_camvid():
    return [i for i in camvid_ids() if i.startswith(CAMVID_VAL_SEQ)]


def coco_instances(img_id, shape):
    """bool masks of the instances of one coco128-seg image, filled as Ultralytics does (polygon x image
    size, truncated to int32, cv2.fillPoly)."""
    h, w = shape
    out = []
    with open(os.path.join(COCO128, "labels", img_id + ".txt")) as f:
        for line in f:
            v = line.split()
            if len(v) < 7:
                continue
            xy = np.array(v[1:], np.float64).reshape(-1, 2) * np.array([w, h])
            m = np.zeros((h, w), np.uint8)
            cv2.fillPoly(m, [xy.astype(np.int32)], 1)
            out.append(m.astype(bool))
    return out


def read_list(name):
    with open(os.path.join(HERE, name)) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def val_bsds():
    return read_list("val_ids.txt")


def val_horses():
    return read_list("val_horses.txt")


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def load_gray(path):
    return np.asarray(Image.open(path))


def normalize(img_u8):
    return (img_u8.astype(np.float32) / 255.0 - MEAN) / STD


# ---------------------------------------------------------------- prompt rasterization
def draw_disk(ch, x, y, r=CLICK_R):
    """Set pixels whose centre (c+.5, r+.5) lies within r of (x, y) to 1 (contract)."""
    h, w = ch.shape
    c0, c1 = max(int(np.floor(x - r - 1)), 0), min(int(np.ceil(x + r + 1)), w)
    r0, r1 = max(int(np.floor(y - r - 1)), 0), min(int(np.ceil(y + r + 1)), h)
    if c0 >= c1 or r0 >= r1:
        return
    cc = np.arange(c0, c1, dtype=np.float32) + 0.5
    rr = np.arange(r0, r1, dtype=np.float32) + 0.5
    d2 = (cc[None, :] - x) ** 2 + (rr[:, None] - y) ** 2
    sub = ch[r0:r1, c0:c1]
    sub[d2 <= r * r] = 1.0


def draw_stroke(ch, pts, r=STROKE_R):
    """Polyline of float (x, y) points; pixels whose centre is within r of any segment."""
    if len(pts) == 1:
        draw_disk(ch, pts[0][0], pts[0][1], r)
        return
    h, w = ch.shape
    for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:]):
        c0 = max(int(np.floor(min(xa, xb) - r - 1)), 0)
        c1 = min(int(np.ceil(max(xa, xb) + r + 1)), w)
        r0 = max(int(np.floor(min(ya, yb) - r - 1)), 0)
        r1 = min(int(np.ceil(max(ya, yb) + r + 1)), h)
        if c0 >= c1 or r0 >= r1:
            continue
        px = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
        py = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
        dx, dy = xb - xa, yb - ya
        L2 = dx * dx + dy * dy
        if L2 < 1e-9:
            t = np.zeros_like(px * py)
        else:
            t = np.clip(((px - xa) * dx + (py - ya) * dy) / L2, 0, 1)
        d2 = (px - (xa + t * dx)) ** 2 + (py - (ya + t * dy)) ** 2
        sub = ch[r0:r1, c0:c1]
        sub[d2 <= r * r] = 1.0


# ---------------------------------------------------------------- click simulation
def padded_dt(m):
    """Distance transform of a bool mask with a 1-px zero border (so borders count as outside)."""
    p = np.pad(m.astype(np.uint8), 1)
    d = cv2.distanceTransform(p, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return d[1:-1, 1:-1]


def interior_point(m):
    """(x, y, dist) of the interior-most pixel centre of bool mask m (None if empty)."""
    if not m.any():
        return None
    d = padded_dt(m)
    idx = int(np.argmax(d))
    r, c = divmod(idx, m.shape[1])
    return c + 0.5, r + 0.5, float(d[r, c])


def next_click(pred, gt, valid=None):
    """Standard protocol: interior-most point of the larger error region (FN -> positive,
    FP -> negative). Returns (x, y, is_positive) or None."""
    fn = gt & ~pred
    fp = pred & ~gt
    if valid is not None:
        fn &= valid
        fp &= valid
    a = interior_point(fn) if fn.any() else None
    b = interior_point(fp) if fp.any() else None
    if a is None and b is None:
        return None
    if b is None or (a is not None and a[2] >= b[2]):
        return a[0], a[1], True
    return b[0], b[1], False


def iou(a, b):
    u = np.logical_or(a, b).sum()
    return 1.0 if u == 0 else float(np.logical_and(a, b).sum()) / float(u)


# ---------------------------------------------------------------- eval set (BSDS object-like regions)
def thin_ok(m, min_core=0.5, erode_px=3.0, min_maxdist=6.0):
    d = padded_dt(m)
    a = m.sum()
    return d.max() >= min_maxdist and (d > erode_px).sum() >= min_core * a


def touches_like_stuff(m):
    """True for background-like regions: touching 3+ image sides, or both opposite sides."""
    t, b, l, r = m[0].any(), m[-1].any(), m[:, 0].any(), m[:, -1].any()
    return (t + b + l + r) >= 3 or (l and r) or (t and b)


def bsds_eval_objects(img_id, max_per_image=3, stuff=False):
    """annotator 0's label map; regions with area in [2%, 60%] that are not thin (largest connected
    component), largest first; unless stuff=True, background-like regions (touching 3+ image sides or
    two opposite sides: sky, water, ground bands) are skipped."""
    lm = load_gray(os.path.join(BSDS, "segmentations", f"{img_id}_0.png"))
    n = lm.size
    labels, counts = np.unique(lm, return_counts=True)
    order = np.argsort(-counts)
    out = []
    for i in order:
        frac = counts[i] / n
        if frac < 0.02 or frac > 0.60:
            continue
        m = lm == labels[i]
        if not thin_ok(m):
            continue
        # keep only the largest connected component (label maps can hold disjoint pieces)
        nc, cc, st, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
        if nc > 2:
            k = 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
            m = cc == k
            if m.sum() < 0.02 * n or not thin_ok(m):
                continue
        if not stuff and touches_like_stuff(m):
            continue
        out.append(m)
        if len(out) >= max_per_image:
            break
    return out


def largest_cc(m):
    nc, cc, st, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if nc <= 2:
        return m
    return cc == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))


def source_eval_objects(source, img_id):
    """held-out objects of the new sources: ECSSD's salient mask (largest component), coco128-seg's
    instances and CamVid's thing components, each 1-60 % of the image and not thin, at most 3 per image,
    largest first."""
    if source == "ecssd":
        path = os.path.join(ECSSD, "images", img_id + ".jpg")
        cands = [largest_cc(load_gray(os.path.join(ECSSD, "masks", img_id + ".png")) > 127)]
    elif source == "coco":
        path = os.path.join(COCO128, "images", img_id + ".jpg")
        h, w = load_rgb(path).shape[:2]
        cands = [largest_cc(m) for m in coco_instances(img_id, (h, w))]
    else:
        path = os.path.join(CAMVID, "images", img_id + ".jpg")
        lm = load_gray(os.path.join(CAMVID, "labels", img_id + ".png"))
        cands = []
        for c in CAMVID_THINGS:
            nc, cc = cv2.connectedComponents((lm == c).astype(np.uint8), connectivity=8)
            cands += [cc == k for k in range(1, nc)]
    n = None
    out = []
    for m in sorted(cands, key=lambda m: -int(m.sum())):
        n = m.size
        if not (0.01 * n <= m.sum() <= 0.6 * n) or not thin_ok(m, min_core=0.4, erode_px=2.0, min_maxdist=4.0):
            continue
        out.append(m)
        if len(out) >= 3:
            break
    return path, out


def eval_set(max_images=None, horses=False, stuff=False, source=None):
    """list of (stem, image_path, [bool masks]); source = ecssd, coco or camvid for the held-out part of a
    new source (CamVid: every 4th frame of the held-out sequence)."""
    items = []
    if source:
        ids = {"ecssd": val_ecssd, "coco": val_coco, "camvid": lambda: val_camvid()[::4]}[source]()
        for i in ids:
            path, objs = source_eval_objects(source, i)
            if objs:
                items.append((i, path, objs))
            if max_images and len(items) >= max_images:
                break
        return items
    if horses:
        for h in val_horses()[: max_images or None]:
            m = load_gray(os.path.join(HORSES, "masks", h + ".png")) > 127
            items.append((h, os.path.join(HORSES, "images", h + ".jpg"), [m]))
        return items
    for i in val_bsds():
        objs = bsds_eval_objects(i, stuff=stuff)
        if objs:
            items.append((i, os.path.join(BSDS, "images", i + ".jpg"), objs))
        if max_images and len(items) >= max_images:
            break
    return items
