"""Export a checkpoint to ONNX (contract limner-click/1) and check it with onnxruntime.

    python training/export_onnx.py --ckpt training/runs/v2/last.pt --out models/limner-click-v2.onnx
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import LimnerClick  # noqa: E402

CONFIG = {
    "name": "limner-click-v1",
    "kind": "limner-click",
    "contract": "limner-click/1",
    "files": {"model": "limner-click-v1.onnx"},
    "input_size": {"long_side": 480, "first_long_side": 320, "multiple": 32, "min": 64, "max": 1024},
    "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "prompts": ["click", "scribble", "box"],
    "click_radius": 5,
    "stroke_radius": 3,
    "threshold": 0.5,
}


def load(ckpt):
    ck = torch.load(ckpt, map_location="cpu")
    m = LimnerClick(ck["config"]["nblocks"], ck["config"]["dec"])
    m.load_state_dict(ck["model"])
    return m.eval(), ck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", default="models/limner-click-v1.onnx")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--no-config", action="store_true")
    ap.add_argument("--name", help="model name in the config (default: the output file's stem)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, ck = load(args.ckpt)
    x = torch.randn(1, 3, 320, 480)
    g = torch.zeros(1, 4, 320, 480)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (x, g), args.out, dynamo=False, opset_version=args.opset,
            input_names=["image", "guidance"], output_names=["logits"],
            dynamic_axes={"image": {2: "H", 3: "W"}, "guidance": {2: "H", 3: "W"}, "logits": {2: "H", 3: "W"}},
        )
    import onnx
    mo = onnx.load(args.out)
    for d, v in zip(mo.graph.output[0].type.tensor_type.shape.dim, [1, 1, "H", "W"]):
        if isinstance(v, int):
            d.dim_value = v
        else:
            d.dim_param = v
    onnx.checker.check_model(mo)
    onnx.save(mo, args.out)
    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {size / 1e6:.2f} MB (step {ck['step']}, {ck['seen']} samples)")

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.out, so, providers=["CPUExecutionProvider"])
    print("inputs", [(i.name, i.shape) for i in sess.get_inputs()], "outputs",
          [(o.name, o.shape) for o in sess.get_outputs()])
    rng = np.random.default_rng(0)
    res = {}
    for (H, W) in [(320, 480), (512, 512), (64, 96)]:
        xi = rng.normal(0, 1, (1, 3, H, W)).astype(np.float32)
        gi = np.zeros((1, 4, H, W), np.float32)
        gi[0, 0, H // 2 - 5:H // 2 + 5, W // 2 - 5:W // 2 + 5] = 1
        gi[0, 3, H // 4:3 * H // 4, W // 4:3 * W // 4] = 1
        with torch.no_grad():
            ref = model(torch.from_numpy(xi), torch.from_numpy(gi)).numpy()
        out = sess.run(["logits"], {"image": xi, "guidance": gi})[0]
        diff = float(np.abs(out - ref).max())
        assert out.shape == (1, 1, H, W), out.shape
        assert diff < 1e-3, diff
        ts = []
        for _ in range(23):
            t = time.perf_counter()
            sess.run(["logits"], {"image": xi, "guidance": gi})
            ts.append((time.perf_counter() - t) * 1000)
        med = float(np.median(ts[3:]))
        res[f"{H}x{W}"] = {"max_abs_diff": diff, "median_ms": round(med, 1)}
        print(f"{H}x{W}: max |ort - torch| = {diff:.2e}, median {med:.1f} ms (20 runs, 2 threads)")
    if not args.no_config:
        cfg_path = os.path.splitext(args.out)[0] + ".json"
        cfg = dict(CONFIG)
        cfg["name"] = args.name or os.path.splitext(os.path.basename(args.out))[0]
        cfg["files"] = {"model": os.path.basename(args.out)}
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        print("wrote", cfg_path)
    print(json.dumps({"size_bytes": size, "step": ck["step"], "seen": ck["seen"], "check": res}))


if __name__ == "__main__":
    main()
