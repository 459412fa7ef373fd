"""Write a fixed-seed set of training samples to DIR/digest.npz, to check that another machine
(e.g. the GPU box, with other numpy / OpenCV builds) generates byte-identical samples:

    python training/sample_digest.py DIR            # here, and on the other machine
    python training/sample_digest.py --compare A/digest.npz B/digest.npz
"""
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def write(out):
    import cv2
    from data import Pool, make_sample
    t = time.time()
    pool = Pool()
    print("pool", round(time.time() - t, 1), "s,", len(pool.bcands), "candidates,",
          hashlib.sha1(repr(pool.bcands).encode()).hexdigest(), flush=True)
    rng = np.random.default_rng(123)
    xs, gs, gts = [], [], []
    for S in (256, 448):
        for _ in range(10):
            x, g, gt, _ = make_sample(pool, rng, S)
            xs.append(x.astype(np.float16).ravel())
            gs.append(g.ravel())
            gts.append(gt.ravel())
    os.makedirs(out, exist_ok=True)
    np.savez_compressed(os.path.join(out, "digest.npz"), x=np.concatenate(xs), g=np.concatenate(gs),
                        gt=np.concatenate(gts))
    print("numpy", np.__version__, "opencv", cv2.__version__, flush=True)


def compare(a, b):
    a, b = np.load(a), np.load(b)
    same = all(a[k].shape == b[k].shape and np.array_equal(a[k], b[k]) for k in ("x", "g", "gt"))
    print("identical" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    write(sys.argv[1])
