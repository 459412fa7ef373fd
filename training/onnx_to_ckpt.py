"""Recover a training checkpoint from an exported limner-click ONNX file.

    python training/onnx_to_ckpt.py --onnx models/limner-click-v1.onnx --out training/runs/v1-onnx/init.pt

The legacy exporter folds each BatchNorm into the convolution before it, so the checkpoint gets the
folded convolution weights and an identity BatchNorm after them (weight 1, running mean 0, running
variance 1 - eps, bias = the folded bias). In eval mode that is the exported network exactly (checked
against onnxruntime below); fine-tune it with `train.py --freeze-bn`, since batch statistics would
not match those identity BatchNorms.
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import LimnerClick  # noqa: E402


def module_name(output_name):
    """'/_blocks.0/_depthwise_conv/Conv_output_0' -> '_blocks.0._depthwise_conv';
    '/smooth.0/smooth.0.3/Conv_output_0' -> 'smooth.0.3'."""
    name = ""
    for p in output_name.strip("/").split("/")[:-1]:
        if name and p.startswith(name + "."):
            name = p
        else:
            name = f"{name}.{p}" if name else p
    return name


def following_bn(model, conv_name):
    mods = dict(model.named_modules())
    parent, _, leaf = conv_name.rpartition(".")
    mbconv = {"_expand_conv": "_bn0", "_depthwise_conv": "_bn1", "_project_conv": "_bn2"}
    if leaf in mbconv:
        cand = f"{parent}.{mbconv[leaf]}"
    elif leaf == "_conv_stem":
        return None  # the stem's BN follows the guidance add and is exported unfolded
    elif leaf.isdigit():
        cand = f"{parent}.{int(leaf) + 1}"
    else:
        return None
    m = mods.get(cand)
    return cand if isinstance(m, torch.nn.BatchNorm2d) else None


def convert(onnx_path, nblocks=11, dec=48):
    g = onnx.load(onnx_path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    model = LimnerClick(nblocks, dec)
    sd = model.state_dict()
    mods = dict(model.named_modules())
    done = set()
    for n in g.node:
        if n.op_type == "Conv":
            name = module_name(n.output[0])
            assert isinstance(mods.get(name), torch.nn.Conv2d), name
            sd[name + ".weight"] = torch.from_numpy(inits[n.input[1]].copy())
            bias = torch.from_numpy(inits[n.input[2]].copy()) if len(n.input) > 2 else None
            bn = following_bn(model, name)
            if bn is not None:
                eps = mods[bn].eps
                c = sd[bn + ".weight"].shape[0]
                sd[bn + ".weight"] = torch.ones(c)
                sd[bn + ".bias"] = bias if bias is not None else torch.zeros(c)
                sd[bn + ".running_mean"] = torch.zeros(c)
                sd[bn + ".running_var"] = torch.full((c,), 1.0 - eps)
                done.update(bn + s for s in (".weight", ".bias", ".running_mean", ".running_var"))
            else:
                assert (name + ".bias" in sd) == (bias is not None), name
                if bias is not None:
                    sd[name + ".bias"] = bias
            done.update(k for k in (name + ".weight", name + ".bias") if k in sd)
        elif n.op_type == "BatchNormalization":
            name = module_name(n.output[0])
            for k, v in zip(("weight", "bias", "running_mean", "running_var"), n.input[1:5]):
                sd[f"{name}.{k}"] = torch.from_numpy(inits[v].copy())
                done.add(f"{name}.{k}")
    left = [k for k in sd if k not in done and not k.endswith("num_batches_tracked")]
    assert not left, f"not recovered: {left}"
    model.load_state_dict(sd)
    return model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default="models/limner-click-v1.onnx")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    model = convert(args.onnx)
    import onnxruntime as ort
    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 3, 320, 480)).astype(np.float32)
    gd = (rng.random((1, 4, 320, 480)) > 0.97).astype(np.float32)
    ref = sess.run(None, {"image": x, "guidance": gd})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x), torch.from_numpy(gd)).numpy()
    diff = float(np.abs(ref - got).max())
    print(f"max |torch - onnxruntime| = {diff:.2e}")
    assert diff < 1e-3
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"model": model.state_dict(), "step": 0, "seen": 0,
                "config": {"nblocks": 11, "dec": 48, "from_onnx": os.path.basename(args.onnx)}}, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
