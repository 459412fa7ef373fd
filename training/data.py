"""Training sample generator: BSDS500 regions (+ merged neighbours), Weizmann horses, ECSSD salient
objects, coco128-seg instances, CamVid street objects and regions, synthetic composites; scale/crop/flip/rotate + colour augmentation; initial prompts (clicks, scribbles, box).

A sample is (image [3,S,S] normalized, guidance [4,S,S], gt [S,S] bool, valid [S,S] bool).
The iterative (model-in-the-loop) clicks are added by train.py.
"""
import os
import pickle

import cv2
import numpy as np
import torch

from common import (BSDS, CAMVID, CAMVID_THINGS, CAMVID_VOID, ECSSD, HORSES, MEAN, STD, bsds_ids, camvid_ids,
                    coco_ids, coco_instances, COCO128, draw_disk, draw_stroke, ecssd_ids, horse_ids, load_gray,
                    load_rgb, padded_dt, val_bsds, val_camvid, val_coco, val_ecssd, val_horses, HERE)

# where a sample's object comes from (shares of all samples; composites paste any of the object sources)
SOURCE_WEIGHTS = {"bsds": 0.36, "horse": 0.08, "ecssd": 0.18, "coco": 0.14, "camvid": 0.08, "composite": 0.16}

FILL = tuple(float(v) for v in (MEAN * 255.0))  # colour that normalizes to 0


class Pool:
    """All training images and candidate object masks, in memory."""

    def __init__(self, cache=os.path.join(HERE, "cache", "pool2.pkl")):
        if os.path.exists(cache):
            with open(cache, "rb") as f:
                d = pickle.load(f)
        else:
            d = self._build()
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            with open(cache, "wb") as f:
                pickle.dump(d, f, protocol=4)
        self.__dict__.update(d)

    @staticmethod
    def _build():
        vb, vh = set(val_bsds()), set(val_horses())
        bimgs, blms, bcands = [], [], []
        for i in bsds_ids():
            if i in vb:
                continue
            img = load_rgb(os.path.join(BSDS, "images", i + ".jpg"))
            k = 0
            lms = []
            while os.path.exists(os.path.join(BSDS, "segmentations", f"{i}_{k}.png")):
                lms.append(load_gray(os.path.join(BSDS, "segmentations", f"{i}_{k}.png")))
                k += 1
            ii = len(bimgs)
            bimgs.append(img)
            blms.append(lms)
            n = img.shape[0] * img.shape[1]
            for k, lm in enumerate(lms):
                labels, counts = np.unique(lm, return_counts=True)
                for lab, cnt in zip(labels, counts):
                    if cnt < 0.01 * n or cnt > 0.9 * n:
                        continue
                    m = lm == lab
                    d = padded_dt(m)
                    if d.max() < 5 or (d > 2.5).sum() < 0.4 * cnt:
                        continue
                    bcands.append((ii, k, int(lab)))
        himgs, hmasks = [], []
        for h in horse_ids():
            if h in vh:
                continue
            himgs.append(load_rgb(os.path.join(HORSES, "images", h + ".jpg")))
            hmasks.append(load_gray(os.path.join(HORSES, "masks", h + ".png")) > 127)
        # ECSSD: the salient mask, or one of its parts when it has several
        eimgs, emasks = [], []
        for e in sorted(set(ecssd_ids()) - set(val_ecssd())):
            eimgs.append(load_rgb(os.path.join(ECSSD, "images", e + ".jpg")))
            emasks.append(np.packbits(load_gray(os.path.join(ECSSD, "masks", e + ".png")) > 127, axis=-1))
        # coco128-seg: every instance covering >= 0.2 % of its image, masks bit-packed
        cimgs, cmasks = [], []
        for c in sorted(set(coco_ids()) - set(val_coco())):
            img = load_rgb(os.path.join(COCO128, "images", c + ".jpg"))
            ms = [m for m in coco_instances(c, img.shape[:2]) if m.sum() >= 0.002 * m.size]
            if ms:
                cimgs.append(img)
                cmasks.append([np.packbits(m, axis=-1) for m in ms])
        # CamVid: label maps; a candidate = (frame, class); the component is drawn when sampled
        vimgs, vlms = [], []
        for v in sorted(set(camvid_ids()) - set(val_camvid())):
            vimgs.append(load_rgb(os.path.join(CAMVID, "images", v + ".jpg")))
            vlms.append(load_gray(os.path.join(CAMVID, "labels", v + ".png")))
        return dict(bimgs=bimgs, blms=blms, bcands=bcands, himgs=himgs, hmasks=hmasks, eimgs=eimgs,
                    emasks=emasks, cimgs=cimgs, cmasks=cmasks, vimgs=vimgs, vlms=vlms)

    def ecssd_object(self, rng):
        j = rng.integers(len(self.eimgs))
        img = self.eimgs[j]
        m = np.unpackbits(self.emasks[j], axis=-1, count=img.shape[1]).astype(bool)
        if rng.random() < 0.3:
            nc, cc, st, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
            big = [k for k in range(1, nc) if st[k, cv2.CC_STAT_AREA] >= 0.005 * m.size]
            if len(big) > 1:
                m = cc == big[rng.integers(len(big))]
        return img, m

    def coco_object(self, rng):
        j = rng.integers(len(self.cimgs))
        img = self.cimgs[j]
        ms = self.cmasks[j]
        return img, np.unpackbits(ms[rng.integers(len(ms))], axis=-1, count=img.shape[1]).astype(bool)

    def camvid_object(self, rng):
        """a connected component of a thing class (70 %) or a whole stuff region, not touching void"""
        for _ in range(10):
            j = rng.integers(len(self.vimgs))
            lm = self.vlms[j]
            classes = [c for c in np.unique(lm) if c != CAMVID_VOID]
            things = [c for c in classes if c in CAMVID_THINGS]
            if things and rng.random() < 0.7:
                c = things[rng.integers(len(things))]
                nc, cc, st, _ = cv2.connectedComponentsWithStats((lm == c).astype(np.uint8), connectivity=8)
                ok = [k for k in range(1, nc) if st[k, cv2.CC_STAT_AREA] >= 150]
                if not ok:
                    continue
                return self.vimgs[j], cc == ok[rng.integers(len(ok))]
            stuff = [c for c in classes if c not in CAMVID_THINGS]
            if stuff:
                m = lm == stuff[rng.integers(len(stuff))]
                if 0.01 * m.size <= m.sum() <= 0.8 * m.size:
                    return self.vimgs[j], m
        return self.vimgs[j], lm == lm[lm.shape[0] // 2, lm.shape[1] // 2]

    def object(self, source, rng):
        return {"bsds": self.bsds_object, "horse": self.horse_object, "ecssd": self.ecssd_object,
                "coco": self.coco_object, "camvid": self.camvid_object}[source](rng)

    def bsds_object(self, rng):
        ii, k, lab = self.bcands[rng.integers(len(self.bcands))]
        lm = self.blms[ii][k]
        m = lm == lab
        if rng.random() < 0.3:  # merge 1-2 adjacent regions into a bigger "object"
            for _ in range(rng.integers(1, 3)):
                ring = cv2.dilate(m.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~m
                nb = np.unique(lm[ring])
                if len(nb) == 0:
                    break
                m2 = m | (lm == nb[rng.integers(len(nb))])
                if m2.mean() > 0.85:
                    break
                m = m2
        return self.bimgs[ii], m

    def horse_object(self, rng):
        j = rng.integers(len(self.himgs))
        return self.himgs[j], self.hmasks[j]

    def any_image(self, rng):
        imgs = [self.bimgs, self.himgs, self.eimgs, self.cimgs, self.vimgs][
            rng.choice(5, p=[0.35, 0.15, 0.2, 0.2, 0.1])]
        return imgs[rng.integers(len(imgs))]


def bbox(m):
    ys, xs = np.nonzero(m)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def composite(pool, rng):
    """Paste an object (horse or BSDS region) onto another image. Target = pasted object."""
    src = ["horse", "bsds", "ecssd", "coco"][rng.choice(4, p=[0.25, 0.25, 0.3, 0.2])]
    img, m = pool.object(src, rng)
    bg = pool.any_image(rng).copy()
    x0, y0, x1, y1 = bbox(m)
    fg = img[y0:y1, x0:x1]
    fm = m[y0:y1, x0:x1].astype(np.float32)
    H, W = bg.shape[:2]
    target = rng.uniform(0.25, 0.8) * min(H, W)
    s = target / max(fg.shape[:2])
    nw, nh = max(8, int(fg.shape[1] * s)), max(8, int(fg.shape[0] * s))
    nw, nh = min(nw, W), min(nh, H)
    fg = cv2.resize(fg, (nw, nh), interpolation=cv2.INTER_LINEAR)
    fm = cv2.resize(fm, (nw, nh), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        fm = cv2.GaussianBlur(fm, (3, 3), 0.8)
    px, py = rng.integers(0, W - nw + 1), rng.integers(0, H - nh + 1)
    a = fm[..., None]
    reg = bg[py:py + nh, px:px + nw].astype(np.float32)
    bg[py:py + nh, px:px + nw] = (a * fg + (1 - a) * reg).astype(np.uint8)
    out = np.zeros((H, W), bool)
    out[py:py + nh, px:px + nw] = fm > 0.5
    return bg, out


def color_aug(img, rng):
    img = img.astype(np.float32)
    if rng.random() < 0.8:
        img = img * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)  # contrast/brightness
        mean = img.mean(axis=(0, 1), keepdims=True)
        img = (img - mean) * rng.uniform(0.75, 1.25) + mean
    if rng.random() < 0.5:  # saturation
        g = img.mean(axis=2, keepdims=True)
        img = g + (img - g) * rng.uniform(0.5, 1.4)
    if rng.random() < 0.3:  # per-channel gain (white balance / hue-ish)
        img = img * rng.uniform(0.85, 1.15, size=(1, 1, 3))
    if rng.random() < 0.05:
        img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    img = np.clip(img, 0, 255)
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.6))
    if rng.random() < 0.1:
        img = np.clip(img + rng.normal(0, rng.uniform(2, 8), img.shape), 0, 255)
    return img.astype(np.float32)


def geo_crop(img, m, S, rng):
    """Random crop/zoom around the object into an SxS canvas. Returns img float, mask bool, valid bool."""
    H, W = m.shape
    x0, y0, x1, y1 = bbox(m)
    bw, bh = x1 - x0, y1 - y0
    flip = rng.random() < 0.5
    if rng.random() < 0.15:
        # whole image, long side = S, padded bottom/right (the runtime's first-click input)
        s = S / max(H, W) * rng.uniform(0.8, 1.0)
        M = np.array([[s, 0, 0], [0, s, 0]], np.float64)
        if flip:
            M = np.array([[-s, 0, W * s], [0, s, 0]], np.float64)
    else:
        # crop around the object (as the runtime does: expanded box, clamped to the image), uniform
        # scale so its long side is S, placed top-left, zero (mean colour) padding bottom/right
        e = np.exp(rng.uniform(np.log(1.1), np.log(3.0)))
        C = max(max(bw, bh) * e, 120.0)
        ar = np.exp(rng.uniform(-0.3, 0.3))
        cw, ch = min(C * ar, W), min(C / ar, H)
        cx = (x0 + x1) / 2 + rng.uniform(-0.15, 0.15) * cw
        cy = (y0 + y1) / 2 + rng.uniform(-0.15, 0.15) * ch
        ox = float(np.clip(cx - cw / 2, 0, W - cw))
        oy = float(np.clip(cy - ch / 2, 0, H - ch))
        s = S / max(cw, ch)
        ang = rng.uniform(-10, 10) if rng.random() < 0.2 else 0.0
        R = cv2.getRotationMatrix2D((ox + cw / 2, oy + ch / 2), ang, 1.0)
        A = np.vstack([R, [0, 0, 1]])
        T = np.array([[s, 0, -s * ox], [0, s, -s * oy], [0, 0, 1]])
        if flip:
            T = np.array([[-1, 0, cw * s], [0, 1, 0], [0, 0, 1]]) @ T
        M = (T @ A)[:2]
    out = cv2.warpAffine(img, M, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=FILL)
    mm = cv2.warpAffine(m.astype(np.float32), M, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.warpAffine(np.ones((H, W), np.uint8), M, (S, S), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, mm > 0.5, valid > 0


def random_walk(region, rng, steps, step_len):
    """Random walk (list of float points) staying inside bool region; None if region empty."""
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        return None
    j = rng.integers(len(xs))
    x, y = xs[j] + 0.5, ys[j] + 0.5
    pts = [(x, y)]
    ang = rng.uniform(0, 2 * np.pi)
    H, W = region.shape
    for _ in range(steps):
        for _try in range(6):
            a = ang + rng.normal(0, 0.6)
            nx, ny = x + step_len * np.cos(a), y + step_len * np.sin(a)
            if 0 <= nx < W and 0 <= ny < H and region[int(ny), int(nx)]:
                x, y, ang = nx, ny, a
                pts.append((x, y))
                break
            ang += np.pi / 2
        else:
            break
    return pts


def initial_prompts(gt, valid, rng, box_frac=0.25):
    """Guidance [4,S,S] with the first prompts. Modes: box `box_frac` (default 25%), the rest clicks and
    scribbles 55:20 (55% / 20% at the default)."""
    click_end = (1.0 - box_frac) * 0.55 / 0.75
    S = gt.shape[0]
    g = np.zeros((4, S, S), np.float32)
    d = padded_dt(gt)
    dmax = d.max()
    mode = rng.random()
    if mode < click_end or dmax < 3:
        # first click: interior-most point (jittered) or a random fairly-interior point
        if rng.random() < 0.6:
            r, c = divmod(int(np.argmax(d)), S)
            x, y = c + 0.5 + rng.normal(0, 1.5), r + 0.5 + rng.normal(0, 1.5)
        else:
            ys, xs = np.nonzero(d >= max(0.35 * dmax, 1.0))
            j = rng.integers(len(xs))
            x, y = xs[j] + 0.5, ys[j] + 0.5
        draw_disk(g[0], x, y)
        if rng.random() < 0.25:  # extra random clicks as a user might place them
            ys, xs = np.nonzero(d >= min(4.0, dmax))
            for _ in range(rng.integers(1, 3)):
                j = rng.integers(len(xs))
                draw_disk(g[0], xs[j] + 0.5, ys[j] + 0.5)
            dout = cv2.distanceTransform((~gt).astype(np.uint8), cv2.DIST_L2, 3)
            ys, xs = np.nonzero((dout >= 4) & (dout <= 60) & valid)
            if len(xs):
                for _ in range(rng.integers(0, 3)):
                    j = rng.integers(len(xs))
                    draw_disk(g[1], xs[j] + 0.5, ys[j] + 0.5)
    elif mode < 1.0 - box_frac:
        inner = d >= min(3.0, dmax)
        for _ in range(1 if rng.random() < 0.7 else 2):
            pts = random_walk(inner, rng, int(rng.integers(4, 40)), rng.uniform(3, 8))
            if pts:
                draw_stroke(g[0], pts)
        if rng.random() < 0.6:
            dout = cv2.distanceTransform((~gt).astype(np.uint8), cv2.DIST_L2, 3)
            band = (dout >= 5) & (dout <= rng.uniform(20, 80)) & valid
            pts = random_walk(band, rng, int(rng.integers(4, 40)), rng.uniform(3, 8))
            if pts:
                draw_stroke(g[1], pts)
    else:
        x0, y0, x1, y1 = bbox(gt)
        bw, bh = x1 - x0, y1 - y0
        j = rng.normal(0, 0.04, 4) * np.array([bw, bh, bw, bh])
        X0, Y0 = int(round(np.clip(x0 + j[0], 0, S))), int(round(np.clip(y0 + j[1], 0, S)))
        X1, Y1 = int(round(np.clip(x1 + j[2], 0, S))), int(round(np.clip(y1 + j[3], 0, S)))
        if X1 > X0 and Y1 > Y0:
            g[3, Y0:Y1, X0:X1] = 1.0
        if rng.random() < 0.35:
            r, c = divmod(int(np.argmax(d)), S)
            draw_disk(g[0], c + 0.5, r + 0.5)
    g *= valid[None].astype(np.float32)
    return g


def make_sample(pool, rng, S, box_frac=0.25):
    for _ in range(20):
        src = list(SOURCE_WEIGHTS)[rng.choice(len(SOURCE_WEIGHTS), p=list(SOURCE_WEIGHTS.values()))]
        img, m = composite(pool, rng) if src == "composite" else pool.object(src, rng)
        if m.sum() < 16:
            continue
        im, gt, valid = geo_crop(img, m, S, rng)
        a = gt.mean()
        if a < 0.004 or a > 0.95 or padded_dt(gt).max() < 2:
            continue
        im = color_aug(im, rng)
        x = (im / 255.0 - MEAN) / STD
        x[~valid] = 0.0
        g = initial_prompts(gt, valid, rng, box_frac)
        return x.transpose(2, 0, 1).astype(np.float32), g, gt, valid
    raise RuntimeError("could not make a sample")


class Stream(torch.utils.data.IterableDataset):
    """Yields whole batches; the crop size is drawn per batch from `sizes` (multi-scale training, so the
    model sees objects spanning up to ~350 px as in the runtime's 320-512 px inputs)."""

    def __init__(self, sizes, batch, seed, box_frac=0.25):
        self.sizes, self.batch, self.seed, self.box_frac = list(sizes), batch, seed, box_frac

    def __iter__(self):
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        rng = np.random.default_rng([self.seed, wid])
        pool = Pool()
        while True:
            S = int(self.sizes[rng.integers(len(self.sizes))])
            xs, gs, gts, vs = zip(*[make_sample(pool, rng, S, self.box_frac) for _ in range(self.batch)])
            yield (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(gs)),
                   torch.from_numpy(np.stack(gts)), torch.from_numpy(np.stack(vs)))
