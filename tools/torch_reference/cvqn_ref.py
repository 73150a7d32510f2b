#!/usr/bin/env python3
"""PyTorch reference of one CVQN training step, for a steps/s comparison with the
Burn trainer (`cvq-train train`, trainer/src/train/mod.rs).

It mirrors `cvq_core::model::Cvqn::forward` + `cvq_core::loss::RateDistortionLoss`
(MSE distortion, gmm_beta = 0) + the trainer's update (Adam with three learning rates,
gradients clipped by value), shape for shape and op for op, on random data. It is a
timing reference only: nothing here is compared numerically with the Rust model.

Only torch and the standard library are used.

Hand count of the Burn model's parameters for models/cvq-compact.json
(read from codec-core/src/model/**; conv = weight [out, in, k, k] + bias [out];
Burn `Linear` = weight [in, out] + bias [out]; MeanShift and the Int `order`
tensor hold no parameters; importance is Predefined, so there is no SE head):

  code_channels C = 32, groups (ratios .25/.5/.25) = [8, 16, 8], levels [3, 5, 7]

  ResidualGroup(n, b) = b * RCAB(n) + conv3x3(n->n)
  RCAB(n)             = 2 * conv3x3(n->n) + Linear(n->n/4) + Linear(n/4->n)
    conv3x3(32->32)   =   9 216 +  32 =   9 248
    conv3x3(64->64)   =  36 864 +  64 =  36 928
    conv3x3(128->128) = 147 456 + 128 = 147 584
    conv3x3(192->192) = 331 776 + 192 = 331 968
    CA(32)  = 32*8+8 + 8*32+32       =    552
    CA(64)  = 64*16+16 + 16*64+64    =  2 128
    CA(128) = 128*32+32 + 32*128+128 =  8 352
    CA(192) = 192*48+48 + 48*192+192 = 18 672
    RG(32, 0) =                              9 248
    RG(32, 1) = 2*9 248 + 552 + 9 248     = 28 296
    RG(64, 1) = 2*36 928 + 2 128 + 36 928 = 112 912
    RG(128,1) = 2*147 584 + 8 352 + 147 584 = 451 104
    RG(192,1) = 2*331 968 + 18 672 + 331 968 = 1 014 576

  Encoder (features [8,16,32,48], blocks [0,1,1,1]):
    head    conv3x3(3->8)         [8,3,3,3]+[8]             =       224
    stage0  RG(32,0)                                        =     9 248
            conv3x3(32->16)       [16,32,3,3]+[16]          =     4 624
    stage1  RG(64,1)                                        =   112 912
            conv3x3(64->32)       [32,64,3,3]+[32]          =    18 464
    stage2  RG(128,1)                                       =   451 104
            conv3x3(128->48)      [48,128,3,3]+[48]         =    55 344
    stage3  RG(192,1)                                       = 1 014 576
            conv3x3(192->48)      [48,192,3,3]+[48]         =    82 992
    tail    conv3x3(48->32)       [32,48,3,3]+[32]          =    13 856
    encoder total                                           = 1 763 344

  Decoder (features [48,32,16,8], blocks [1,1,1,0]):
    head    conv3x3(32->48)       [48,32,3,3]+[48]          =    13 872
    stage0  conv3x3(48->128)      [128,48,3,3]+[128]        =    55 424
            RG(128,1)                                       =   451 104
    stage1  conv3x3(32->64)       [64,32,3,3]+[64]          =    18 496
            RG(64,1)                                        =   112 912
    stage2  conv3x3(16->32)       [32,16,3,3]+[32]          =     4 640
            RG(32,1)                                        =    28 296
    stage3  conv3x3(8->32)        [32,8,3,3]+[32]           =     2 336
            RG(32,0)                                        =     9 248
    tail    conv3x3(8->3)         [3,8,3,3]+[3]             =       219
    decoder total                                           =   696 547

  GMM quantizers: mean, log_std, log_pi, each [L]: 3*(3+5+7)  =        45

  Parallel context models (F = 32):
    g0 (L3, c8,  prior 24): prior conv3x3(24->32) 6 944, context conv3x3(8->32) 2 336,
                            hidden 1x1(32->32) 1 056, out 1x1(32->24) 792   = 11 128
    g1 (L5, c16, prior 8):  prior conv3x3(8->32) 2 336, context conv3x3(16->32) 4 640,
                            hidden 1 056, out 1x1(32->80) 2 640           = 10 672
    g2 (L7, c8,  prior 0):  context 2 336, hidden 1 056, out 1x1(32->56) 1 848 = 5 240
    entropy total                                           =    27 040

  TOTAL = 1 763 344 + 696 547 + 45 + 27 040 = 2 486 976  (the "2.49 M params" on record)

The script asserts that this PyTorch model has the same count when it is built from
cvq-compact.json (and prints the count for any other config).
"""

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.normpath(os.path.join(HERE, "..", "..", "models", "cvq-compact.json"))
HAND_COUNT = {"cvq-compact": 2_486_976}

VAR_EPS = 1e-3
HARD_SCALE = 1e4
LN2 = math.log(2.0)

# MS-SSIM (logged by the trainer every `log_every` steps when crop >= 161).
MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
MS_SSIM_MIN_SIDE = 161
WINDOW_F32 = [0.0010283804, 0.007598758, 0.036000773, 0.10936069, 0.21300553, 0.26601171,
              0.21300553, 0.10936069, 0.036000773, 0.007598758, 0.0010283804]


def same_conv(c_in, c_out, k):
    """`same_conv`: k×k, stride 1, padding k/2, with bias (torch default init = Burn's)."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=True)


def activation(kind):
    if kind == "Relu":
        return F.relu
    if kind == "Identity":
        return lambda x: x
    if isinstance(kind, dict) and "LeakyRelu" in kind:
        slope = kind["LeakyRelu"]["negative_slope"]
        return lambda x: F.leaky_relu(x, slope)
    raise ValueError(f"activation {kind!r}")


class ChannelAttention(nn.Module):
    """Mean over W then H → Linear layers (ReLU between) → sigmoid / softmax gate."""

    def __init__(self, kind, c, reduction):
        super().__init__()
        m = c // reduction
        if kind == "Sigmoid":
            widths = [(c, m), (m, c)]
        elif kind == "DeepSoftmax":
            widths = [(c, m), (m, m), (m, c), (c, c)]
        elif kind == "None":
            widths = []
        else:
            raise ValueError(kind)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in widths)
        self.softmax = kind == "DeepSoftmax"

    def forward(self, x):
        if not self.layers:
            return x
        b, c = x.shape[:2]
        y = x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).reshape(b, c)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            y = layer(y)
            if i < last:
                y = F.relu(y)
        gate = torch.softmax(y, 1) if self.softmax else torch.sigmoid(y)
        return x * gate.reshape(b, c, 1, 1)


class Rcab(nn.Module):
    def __init__(self, n, opt):
        super().__init__()
        self.conv1 = same_conv(n, n, 3)
        self.conv2 = same_conv(n, n, 3)
        self.attention = ChannelAttention(opt["attention"], n, opt["attention_reduction"])
        self.act = activation(opt["activation"])
        self.res_scale = float(opt["res_scale"])

    def forward(self, x):
        y = self.conv1(x)
        y = self.conv2(self.act(y))
        y = self.attention(y)
        return x + y * self.res_scale  # Burn runs mul_scalar even for 1.0


class ResidualGroup(nn.Module):
    def __init__(self, n, blocks, opt):
        super().__init__()
        self.blocks = nn.ModuleList(Rcab(n, opt) for _ in range(blocks))
        self.conv = same_conv(n, n, 3)

    def forward(self, x):
        y = x
        for block in self.blocks:
            y = block(y)
        return x + self.conv(y)


class Gdn(nn.Module):
    """GDN / inverse GDN with the lower-bound reparametrisation (straight-through bound)."""

    REPARAM_OFFSET = 1.0 / (1 << 18)
    PEDESTAL = REPARAM_OFFSET ** 2

    def __init__(self, c, inverse):
        super().__init__()
        self.beta = nn.Parameter(torch.sqrt(torch.ones(c) + self.PEDESTAL))
        self.gamma = nn.Parameter(torch.sqrt(torch.eye(c) * 0.1 + self.PEDESTAL))
        self.inverse = inverse

    @staticmethod
    def _lower_bound(x, bound):
        return x + (x.clamp_min(bound) - x).detach()

    def forward(self, x):
        c = self.beta.shape[0]
        beta = self._lower_bound(self.beta, math.sqrt(1e-6 + self.PEDESTAL)) ** 2 - self.PEDESTAL
        gamma = (self._lower_bound(self.gamma, self.REPARAM_OFFSET) ** 2 - self.PEDESTAL).reshape(c, c, 1, 1)
        norm = torch.sqrt(F.conv2d(x * x, gamma, beta))
        return x * norm if self.inverse else x / norm


class MeanShift(nn.Module):
    """Frozen RGB affine map; like Burn it uploads its two [3] vectors every call."""

    def __init__(self, mean, std, subtract):
        super().__init__()
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self.subtract = subtract

    def forward(self, x):
        mean = torch.tensor(self.mean, device=x.device).reshape(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).reshape(1, 3, 1, 1)
        return (x - mean) / std if self.subtract else x * std + mean


class EncoderStage(nn.Module):
    def __init__(self, n, blocks, out, opt, gdn):
        super().__init__()
        self.gdn = Gdn(n, False) if gdn else None
        self.group = ResidualGroup(n, blocks, opt)
        self.conv = same_conv(n, out, 3)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        enc = cfg["encoder"]
        f = enc["features"]
        self.sub_mean = MeanShift(cfg["rgb_mean"], cfg["rgb_std"], True)
        self.head = same_conv(3, f[0], 3)
        self.stages = nn.ModuleList(
            EncoderStage(4 * f[t], enc["blocks"][t], f[min(t + 1, 3)], enc, enc.get("gdn", False))
            for t in range(4))
        self.tail = same_conv(f[3], cfg["code_channels"], 3)

    def forward(self, image):
        x = self.head(self.sub_mean(image))
        for stage in self.stages:
            x = F.pixel_unshuffle(x, 2)  # same channel order as Burn's inverse_pixel_shuffle
            if stage.gdn is not None:
                x = stage.gdn(x)
            x = stage.conv(stage.group(x))
        return self.tail(x)


class DecoderStage(nn.Module):
    def __init__(self, c_in, n, blocks, opt, gdn):
        super().__init__()
        self.conv = same_conv(c_in, n, 3)
        self.group = ResidualGroup(n, blocks, opt)
        self.gdn = Gdn(n, True) if gdn else None


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dec = cfg["decoder"]
        f = dec["features"]
        self.head = same_conv(cfg["code_channels"], f[0], 3)
        self.stages = nn.ModuleList(
            DecoderStage(f[t], 4 * f[min(t + 1, 3)], dec["blocks"][t], dec, dec.get("gdn", False))
            for t in range(4))
        self.tail = same_conv(f[3], 3, 3)
        self.add_mean = MeanShift(cfg["rgb_mean"], cfg["rgb_std"], False)

    def forward(self, code):
        x = self.head(code)
        for stage in self.stages:
            x = stage.group(stage.conv(x))
            if stage.gdn is not None:
                x = stage.gdn(x)
            x = F.pixel_shuffle(x, 2)
        return self.add_mean(self.tail(x))


class GmmQuantizer(nn.Module):
    def __init__(self, levels, sigma_init):
        super().__init__()
        half = levels // 2
        if levels == 1:
            means = [0.0]
        else:
            means = [-half + 2.0 * half * i / (levels - 1) for i in range(levels)]
        self.mean = nn.Parameter(torch.tensor(means, dtype=torch.float32))
        self.log_std = nn.Parameter(torch.full((levels,), math.log(sigma_init)))
        self.log_pi = nn.Parameter(torch.full((levels,), -math.log(levels)))

    def levels(self):
        return self.mean.shape[0]

    def variance(self):
        return torch.exp(self.log_std * 2.0) + VAR_EPS

    def log_weight(self):
        log_pi = torch.log_softmax(self.log_pi, 0)
        return log_pi - torch.log(self.variance() * (2.0 * math.pi)) * 0.5

    def scaled_distance(self, z):
        l = self.levels()
        mean = self.mean.reshape(1, 1, 1, 1, l)
        var = self.variance().reshape(1, 1, 1, 1, l)
        return (z.unsqueeze(4) - mean) ** 2 / (var * 2.0)

    def forward(self, z):
        l = self.levels()
        b, c, h, w = z.shape
        dist = self.scaled_distance(z)
        log_w = self.log_weight().reshape(1, 1, 1, 1, l)
        soft_w = torch.softmax(log_w - dist, 4)
        mean5 = self.mean.reshape(1, 1, 1, 1, l)
        soft = (soft_w * mean5).sum(dim=4, keepdim=True).reshape(b, c, h, w)
        symbols = (log_w - dist * HARD_SCALE).argmax(dim=4, keepdim=True).reshape(b, c, h, w)
        hard = self.dequantize(symbols)
        values = soft + (hard - soft).detach()
        return values, symbols, soft_w

    def dequantize(self, symbols):
        return self.mean.index_select(0, symbols.flatten()).reshape(symbols.shape)


class ParallelContextModel(nn.Module):
    def __init__(self, levels, channels, prior_channels, features, rate_points=1):
        super().__init__()
        self.prior = same_conv(prior_channels, features, 3) if prior_channels > 0 else None
        self.context = same_conv(channels, features, 3)
        self.hidden = same_conv(features, features, 1)
        self.out = same_conv(features, channels * levels, 1)
        # Variable-rate models: one bias of f per rate point (zeros at init, as in Burn).
        self.rate_bias = nn.Parameter(torch.zeros(rate_points, features)) if rate_points > 1 else None
        self.levels = levels
        self.channels = channels

    @staticmethod
    def anchor_mask(h, w, device):
        # Burn builds the mask on the host and uploads it on every call; so does this.
        yy = torch.arange(h).reshape(h, 1)
        xx = torch.arange(w).reshape(1, w)
        mask = ((yy + xx) % 2 == 0).to(torch.float32).reshape(1, 1, h, w)
        return mask.to(device)

    def forward(self, prior, values, rate=0):
        b, _, h, w = values.shape
        anchors = self.anchor_mask(h, w, values.device)
        others = -anchors + 1.0
        f = self.context(values * anchors) * others
        if self.prior is not None and prior is not None:
            f = f + self.prior(prior)
        if self.rate_bias is not None:
            f = f + self.rate_bias[rate].reshape(1, -1, 1, 1)
        f = F.relu(self.hidden(F.relu(f)))
        return self.out(f).reshape(b, self.channels, self.levels, h, w).transpose(1, 2)


def symbol_rates(logits, symbols, soft_w):
    """context3d::symbol_rates: (nll of the symbols, its expectation under the soft
    assignment with the probabilities detached), each [B, C_g, H, W]."""
    b, _, c, h, w = logits.shape
    log_p = torch.log_softmax(logits, 1)
    nll = -log_p.gather(1, symbols.unsqueeze(1)).reshape(b, c, h, w)
    soft_nll = -(soft_w.permute(0, 4, 1, 2, 3) * log_p.detach()).sum(1)
    return nll, soft_nll


def group_channels(cfg):
    c = cfg["code_channels"]
    ratios = cfg["group_ratios"]
    acc, prev, out = 0.0, 0, []
    for i, r in enumerate(ratios):
        acc += r
        end = c if i + 1 == len(ratios) else min(int(math.floor(acc * c + 0.5)), c)  # Rust round()
        out.append(max(end - prev, 0))
        prev = max(prev, end)
    return out


class Cvqn(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.get("importance", "Predefined") != "Predefined":
            raise SystemExit("only Predefined importance is mirrored (SE / RE are not)")
        if cfg.get("entropy", "Context3d") != "Parallel":
            raise SystemExit("only the Parallel entropy model is mirrored (Context3d is not)")
        self.group_sizes = group_channels(cfg)
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantizers = nn.ModuleList(
            GmmQuantizer(l, cfg.get("quantizer_sigma_init", 0.7072)) for l in cfg["levels"])
        gs = self.group_sizes
        k = int(cfg.get("rate_points", 1))
        self.rate_points = k
        self.parallel = nn.ModuleList(
            ParallelContextModel(cfg["levels"][g], gs[g], sum(gs[g + 1:]), cfg["entropy_features"][g], k)
            for g in range(len(cfg["levels"])))
        self.register_buffer("order", torch.arange(cfg["code_channels"], dtype=torch.int64))
        # RateGradient::Soft (CvqnOutput::with_soft_rate_gradient) when True.
        self.soft_rate_gradient = False
        if k > 1:
            # synthesis::rate_gains: log gain of rate point i = ln 0.5 + ln 4 · i/(K−1).
            log_gain = torch.tensor([math.log(0.5) + math.log(4.0) * i / (k - 1) for i in range(k)])
            log_gain = log_gain.reshape(k, 1).repeat(1, cfg["code_channels"])
            self.gain = nn.Parameter(log_gain.clone())
            self.inv_gain = nn.Parameter(-log_gain)
        else:
            self.gain = self.inv_gain = None

    def forward(self, image, rate=0):
        b, _, h, w = image.shape
        # quantize_at()
        latent = self.encoder(image)
        if self.gain is not None:
            latent = latent * torch.exp(self.gain[rate]).reshape(1, -1, 1, 1)
        order = self.order
        permuted = latent.index_select(1, order)
        parts = list(torch.split(permuted, self.group_sizes, dim=1))  # narrow() views
        groups = [q(p) for p, q in zip(parts, self.quantizers)]
        merged = torch.cat([v for v, _, _ in groups], 1)
        code = merged.index_select(1, torch.argsort(order, stable=True))  # unpermute_channels
        if self.inv_gain is not None:
            code = code * torch.exp(self.inv_gain[rate]).reshape(1, -1, 1, 1)
        # entropy_logits() + symbol_rates()
        nlls = []
        for g in range(len(groups)):
            prior = torch.cat([v for v, _, _ in groups[g + 1:]], 1) if g + 1 < len(groups) else None
            logits = self.parallel[g](prior, groups[g][0], rate)
            nll, soft_nll = symbol_rates(logits, groups[g][1], groups[g][2])
            if self.soft_rate_gradient:
                nll = nll + soft_nll - soft_nll.detach()
            nlls.append(nll)
        reconstruction = self.decoder(code)
        return reconstruction, latent, nlls, h * w

    @torch.no_grad()
    def fit_quantizer_means(self, latent):
        sigma = torch.sqrt(((latent - latent.mean()) ** 2).mean()).item()
        for q in self.quantizers:
            l = q.levels()
            q.mean.copy_(torch.tensor(
                [sigma * (-1.5 + 3.0 * k / (max(l, 2) - 1)) for k in range(l)], device=q.mean.device))


def lecun_normal_transforms(model):
    """trainer/src/train/init.rs: every 4-D weight of the encoder/decoder ~ N(0, 1/fan_in),
    zero for modules under a field named `tail` (both encoder.tail and decoder.tail)."""
    with torch.no_grad():
        for part in (model.encoder, model.decoder):
            for name, p in part.named_parameters():
                if p.dim() == 4:
                    fan_in = max(p.shape[1] * p.shape[2] * p.shape[3], 1)
                    gain = 0.0 if "tail" in name.split(".") else 1.0
                    p.normal_(0.0, gain * math.sqrt(1.0 / fan_in))


def rd_loss(model, x, lam, rate_point=0, rate_term="seed"):
    """Cvqn::forward_at + RateDistortionLoss::evaluate (MSE, gmm_beta = 0) + the trainer's
    detached per-step statistics [total, distortion, rate, bpp, mse]."""
    rec, latent, nlls, pixels = model(x, rate_point)
    distortion = ((rec - x) ** 2).mean() * (lam * 255.0 * 255.0)
    bpp = torch.stack([n.sum() for n in nlls]).sum() / LN2 / (x.shape[0] * pixels)
    if rate_term == "bpp":
        rate = bpp
    else:
        rate = torch.stack([n.mean() for n in nlls]).sum() / len(nlls)  # rate_ce()
    total = distortion + rate
    with torch.no_grad():
        mse = ((rec - x) ** 2).mean()
        stats = torch.stack([total, distortion, rate, bpp.detach(), mse])
    return total, stats, rec


def gaussian_window(device):
    g = torch.tensor(WINDOW_F32, dtype=torch.float32, device=device)
    return g.reshape(1, 1, 1, 11).repeat(15, 1, 1, 1), g.reshape(1, 1, 11, 1).repeat(15, 1, 1, 1)


@torch.no_grad()
def ms_ssim(x, y):
    """cvq_core::metrics::ms_ssim_tensor (pytorch_msssim 1.0.0, data_range 255), [B]."""
    win_h, win_v = gaussian_window(x.device)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    prod = None
    last = len(MS_SSIM_WEIGHTS) - 1
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        stacked = torch.cat([x, y, x * x, y * y, x * y], 1)
        blurred = F.conv2d(F.conv2d(stacked, win_v, groups=15), win_h, groups=15)
        mu1, mu2, ex2, ey2, exy = torch.split(blurred, 3, dim=1)
        mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
        cs_map = (2.0 * (exy - mu12) + c2) / ((ex2 - mu1_sq) + (ey2 - mu2_sq) + c2)
        if level < last:
            value = cs_map.mean(dim=(2, 3))
        else:
            value = ((2.0 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map).mean(dim=(2, 3))
        term = F.relu(value) ** weight
        prod = term if prod is None else prod * term
        if level < last:
            h, w = x.shape[2:]
            x = F.avg_pool2d(x, 2, 2, padding=(h % 2, w % 2), count_include_pad=True)
            y = F.avg_pool2d(y, 2, 2, padding=(h % 2, w % 2), count_include_pad=True)
    return prod.mean(dim=1)


def load_burn_checkpoint(model, path):
    """Copies the weights of a Burn `NamedMpkFileRecorder` file (a trainer checkpoint's
    `model.mpk`, f32) into `model`. Burn's field paths map onto this module's names
    (`stages[0]` → `stages.0`); Burn `Linear` weights are `[in, out]` (transposed here).
    Every parameter of `model` must be found, with the same shape."""
    import msgpack  # pip install msgpack; only needed for this mode
    with open(path, "rb") as fh:
        record = msgpack.unpackb(fh.read(), raw=False, strict_map_key=False)
    found = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            if "param" in node and "id" in node:
                found[prefix] = node["param"]
                return
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{prefix}.{i}")

    walk(record["item"], "")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in params.items():
            if name not in found:
                raise SystemExit(f"{path}: no weight for {name}")
            t = found.pop(name)
            if t["dtype"] != "F32":
                raise SystemExit(f"{path}: {name} is {t['dtype']}, expected F32")
            value = torch.frombuffer(bytearray(t["bytes"]), dtype=torch.float32).reshape(t["shape"])
            if value.dim() == 2 and name.endswith(".weight"):
                value = value.t()  # Burn Linear: [in, out]
            if tuple(value.shape) != tuple(p.shape):
                raise SystemExit(f"{path}: {name} has shape {tuple(value.shape)}, model {tuple(p.shape)}")
            p.copy_(value)
    if found:
        raise SystemExit(f"{path}: weights without a parameter here: {sorted(found)[:5]}")


def batch_reader(path, batch, crop):
    """Batches of a `cvq-train batches` file (u8 `[N, B, 3, crop, crop]`), as float 0..1."""
    size = batch * 3 * crop * crop
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(size)
            if len(chunk) < size:
                return
            yield torch.frombuffer(bytearray(chunk), dtype=torch.uint8).reshape(
                batch, 3, crop, crop).to(torch.float32) / 255.0


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=None,
                    help=f"model config JSON (CvqnConfig); default {DEFAULT_CONFIG}")
    ap.add_argument("--train-json", default=None,
                    help="a trainer train.json: its model, batch_size, crop, lr, lr_quantizer, "
                         "lambda, grad_clip and log_every become the defaults")
    ap.add_argument("--batch", type=int, default=None, help="default 8")
    ap.add_argument("--crop", type=int, default=None, help="default 256")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward + loss")
    ap.add_argument("--lr", type=float, default=None, help="default 1e-4")
    ap.add_argument("--lr-quantizer", type=float, default=None, help="default 5e-5")
    ap.add_argument("--lambda", dest="lam", type=float, default=None, help="default 0.01")
    ap.add_argument("--rate-weights", default=None,
                    help="comma list of λ per rate point of a variable-rate config; each step "
                         "trains a random one (default: the train.json's, else --lambda for all)")
    ap.add_argument("--rate-term", choices=["seed", "bpp"], default=None,
                    help="the loss's rate term (default: the train.json's, else seed)")
    ap.add_argument("--rate-gradient", choices=["soft", "context"], default=None,
                    help="how the rate's gradient reaches the encoder (cvq-train's --rate-gradient;"
                         " default: the train.json's, else soft)")
    ap.add_argument("--grad-clip", type=float, default=None, help="clip by value, 0: off (default 1.0)")
    ap.add_argument("--log-every", type=int, default=None,
                    help="trainer's log_every: MS-SSIM of the batch on these steps if crop >= 161 "
                         "(0: never; default 10)")
    ap.add_argument("--adam", choices=["default", "foreach", "fused", "loop"], default="default",
                    help="torch Adam implementation (default: torch's choice, foreach on CUDA)")
    ap.add_argument("--tf32", choices=["default", "on", "off"], default="default",
                    help="TF32 for cuDNN convs and matmuls (default: leave torch's defaults)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--print-loss", action="store_true", help="print the loss of every timed step")
    ap.add_argument("--fixed-batch", action="store_true", help="train on one batch (sanity check)")
    ap.add_argument("--init-mpk", default=None,
                    help="start from these weights (a trainer checkpoint's model.mpk, f32) "
                         "instead of this script's own initialisation")
    ap.add_argument("--batches", default=None,
                    help="train on these real crops (`cvq-train batches` file, same --batch and "
                         "--crop), step i on batch i, warm-up steps included")
    ap.add_argument("--log-csv", default=None,
                    help="write step,loss,distortion,rate,bpp,psnr of every step (warm-up included)")
    args = ap.parse_args()

    # TrainConfig::new defaults, then the train.json (if any), then explicit flags.
    defaults = {"batch": 8, "crop": 256, "lr": 1e-4, "lr_quantizer": 5e-5, "lam": 0.01,
                "grad_clip": 1.0, "log_every": 10, "rate_weights": None, "rate_term": "seed",
                "rate_gradient": "soft"}
    cfg = None
    if args.train_json:
        with open(args.train_json) as fh:
            tj = json.load(fh)
        cfg = tj["model"]
        dist = tj["loss"]["distortion"]
        if "Mse" not in dist or tj["loss"].get("gmm_beta", 0.0) > 0:
            raise SystemExit("only the MSE loss with gmm_beta = 0 is mirrored")
        defaults.update(batch=tj["batch_size"], crop=tj["crop"], lr=tj["lr"],
                        lr_quantizer=tj["lr_quantizer"], lam=dist["Mse"]["lambda"],
                        grad_clip=tj["grad_clip"], log_every=tj["log_every"],
                        rate_weights=",".join(str(w) for w in tj.get("rate_weights", [])) or None,
                        rate_term="bpp" if tj["loss"].get("rate") == "Bpp" else "seed",
                        rate_gradient=tj["loss"].get("rate_gradient", "Context").lower())
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.config is not None or cfg is None:
        with open(args.config or DEFAULT_CONFIG) as fh:
            cfg = json.load(fh)

    if args.crop % 16 != 0:
        raise SystemExit("--crop must be a multiple of 16")
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    if args.tf32 != "default":
        torch.backends.cuda.matmul.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    model = Cvqn(cfg)
    model.soft_rate_gradient = args.rate_gradient == "soft"
    if args.init_mpk:
        load_burn_checkpoint(model, args.init_mpk)
    else:
        lecun_normal_transforms(model)
    model.to(device)
    counts = {k: sum(p.numel() for p in getattr(model, k).parameters())
              for k in ("encoder", "decoder", "quantizers", "parallel")}
    params = sum(p.numel() for p in model.parameters())
    print(f"params: {params} ({', '.join(f'{k} {v}' for k, v in counts.items())})", flush=True)
    expected = HAND_COUNT.get(cfg.get("name"))
    if expected is not None and params != expected:
        raise SystemExit(f"parameter count {params} != hand count of the Burn model {expected}")

    # Host-side random batches (values in 0..1), uploaded every step as the trainer does;
    # or the real crops of a trainer run, in step order.
    pool = [torch.rand(args.batch, 3, args.crop, args.crop) for _ in range(1 if args.fixed_batch else 4)]
    real = batch_reader(args.batches, args.batch, args.crop) if args.batches else None

    # Quantizer means on the scale of the first latent (trainer init, untimed); a loaded
    # checkpoint already has them.
    if not args.init_mpk:
        with torch.no_grad():
            model.fit_quantizer_means(model.encoder(pool[0].to(device)))
    log_rows = []

    means = [q.mean for q in model.quantizers]
    pi_sigma = [p for q in model.quantizers for p in (q.log_std, q.log_pi)]
    quant_ids = {id(p) for p in means + pi_sigma}
    net = [p for p in model.parameters() if id(p) not in quant_ids]
    adam_kw = {"betas": (0.9, 0.999), "eps": 1e-5}  # burn AdamConfig defaults
    if args.adam == "foreach":
        adam_kw["foreach"] = True
    elif args.adam == "fused":
        adam_kw["fused"] = True
    elif args.adam == "loop":
        adam_kw["foreach"] = False
    opt = torch.optim.Adam([
        {"params": net, "lr": args.lr},
        {"params": means, "lr": args.lr_quantizer},
        {"params": pi_sigma, "lr": 0.2 * args.lr_quantizer},
    ], **adam_kw)
    all_params = list(model.parameters())

    loss_fn = torch.compile(rd_loss) if args.compile else rd_loss
    k = model.rate_points
    weights = [float(w) for w in args.rate_weights.split(",")] if args.rate_weights else [args.lam] * k
    if len(weights) != k:
        raise SystemExit(f"{len(weights)} rate weights for a model with {k} rate points")
    rate_rng = torch.Generator().manual_seed(args.seed)

    step_no = 0

    def train_step(i):
        nonlocal step_no
        host = next(real, None) if real is not None else pool[i % len(pool)]
        if host is None:
            raise SystemExit(f"{args.batches}: no batch for step {step_no}")
        x = host.to(device)  # host → device upload of the batch
        rate_point = int(torch.randint(k, (1,), generator=rate_rng)) if k > 1 else 0
        total, stats, rec = loss_fn(model, x, weights[rate_point], rate_point, args.rate_term)
        log_now = args.log_every > 0 and (step_no + 1) % args.log_every == 0
        msssim = None
        if log_now and args.crop >= MS_SSIM_MIN_SIDE:
            with torch.no_grad():
                msssim = ms_ssim(x * 255.0, (rec.detach() * 255.0).clamp(0.0, 255.0)).mean().item()
        opt.zero_grad(set_to_none=True)
        total.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_value_(all_params, args.grad_clip)
        opt.step()
        values = stats.tolist()  # one device → host read per step, as the trainer
        if not math.isfinite(values[0]):
            raise SystemExit(f"loss is not finite at step {step_no}")
        step_no += 1
        if args.log_csv:
            total_v, dist_v, rate_v, bpp_v, mse_v = values
            log_rows.append((step_no, total_v, dist_v, rate_v, bpp_v,
                             -10.0 * math.log10(max(mse_v, 1e-12))))
        return values, msssim

    for i in range(args.warmup):
        train_step(i)
    sync(device)
    t0 = time.perf_counter()
    for i in range(args.steps):
        values, msssim = train_step(args.warmup + i)
        if args.print_loss:
            print(f"step {step_no}: loss {values[0]:.5f} distortion {values[1]:.5f} "
                  f"rate {values[2]:.5f} bpp {values[3]:.5f}"
                  + (f" ms-ssim {msssim:.4f}" if msssim is not None else ""), file=sys.stderr)
    sync(device)
    seconds = time.perf_counter() - t0
    if args.log_csv:
        with open(args.log_csv, "w") as fh:
            fh.write("step,loss,distortion,rate,bpp,psnr\n")
            for row in log_rows:
                fh.write(",".join(str(v) for v in row) + "\n")
    print(json.dumps({
        "params": params,
        "batch": args.batch,
        "crop": args.crop,
        "steps": args.steps,
        "seconds": round(seconds, 6),
        "steps_per_sec": args.steps / seconds if seconds > 0 else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "compile": args.compile,
        "adam": args.adam,
        "lr": args.lr,
        "lr_quantizer": args.lr_quantizer,
        "lambda": args.lam,
        "grad_clip": args.grad_clip,
        "log_every": args.log_every,
        "tf32": args.tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "final_loss": values[0] if args.steps > 0 else None,
    }), flush=True)


if __name__ == "__main__":
    main()
