"""The shapes the design-side models use, for the operator grid (issue 13: calibrate where models live).

    .venv/bin/python perf/harvest_shapes.py [--out calibkit/bench/model_shapes.json] [--per-class N] [--min-share F]

Captures every DESIGN model of perf/estimate_accuracy.py (never a REPORT one) at fp32 in each configuration the
evaluation uses (batch 1 at its own resolution and at 160² for the CNNs, batch 8), and collects its convolutions,
linear layers, batched matmuls and squeeze-and-excitation blocks with their shapes. Shapes are binned per operator
class on a log2 grid of their GEMM shape (m, n, k: output pixels × batch, output channels, input channels per group ×
kernel area; for a squeeze-and-excitation block pixels × batch, channels, squeezed channels); a bin keeps the shape
that carries the most FLOPs in it. Each shape is binned twice, on that grid and on one whose pixel axis (m) is half as
coarse, and a shape kept on either grid is timed: a 3×3 convolution 512→512 runs 0.64 ms at 5² and 1.18 ms at 6² on an
Intel Xeon (oneDNN changes its blocking), and on the log2 grid both are one bin, whose 6² shape priced ResNet-18's 5²
convolutions at 160² 67% high. A bin is timed when some model in some configuration spends at least --min-share of
its FLOPs in it, and each class also keeps its --per-class bins with the largest such share (three times that for
linear layers and SE blocks, each all one class; SE blocks by that rank alone, their FLOPs being few). Shares, not
FLOPs: kept by FLOPs the bins had been mostly batch-8 shapes, and the small ones batch 1 and 160² use, where CPU
kernels change most, went untimed. The result is package data
(`calibkit.bench.operators.model_cases` reads it): the calibration times those shapes on the device, so the
estimator finds a timed shape near every op of a model like these. Prints the counts.
"""
import argparse, json, math, sys, warnings
from collections import defaultdict
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
from estimate_accuracy import DESIGN, CONFIGS, build, make_input

OUT = Path(__file__).resolve().parent.parent / 'calibkit' / 'bench' / 'model_shapes.json'


def shapes_of(g):
    "(class key, shape record, FLOPs) of every convolution, linear layer, batched matmul and SE block of graph `g`."
    from calibkit.graph import OT
    from calibkit.mapping import op_class
    for o in g.ops:
        c = op_class(o)
        if c is None or c[0] not in ('op_conv2d', 'op_linear', 'op_matmul', 'op_se'): continue
        p = o.params
        try:
            if c[0] == 'op_se':
                (b, ch, h, w), = o.input_shapes[:1]
                rec = dict(channels=ch, squeeze=p['squeeze'], hw=h, batch=b)
            elif c[0] == 'op_conv2d':
                (kh, kw), stride, hw = p['kernel'], tuple(p['stride']), p['hw']
                if len(stride) == 1:          # a 1-D convolution over L positions: pointwise ones only, timed as a
                    if (kh, kw, stride) != (1, 1, (1,)): continue             # square one of about L pixels
                    sh, batch, ho = 1, max(1, round(p['m'] / hw[-1])), max(1, round(math.sqrt(hw[-1])))
                else:
                    (sh, sw), (ho, wo) = stride, hw
                    if kh != kw or sh != sw: continue             # the grid times square kernels and strides
                    batch = max(1, round(p['m'] / (ho * wo)))
                rec = dict(cin=p['cin'], cout=p['cout'], hw=ho * sh, k=kh, stride=sh, groups=p['groups'], batch=batch)
            elif c[0] == 'op_linear': rec = dict(m=p['m'], din=p['k'], dout=p['n'])
            else:                                             # the graph folds a matmul's batch into m
                out = o.output_shape or ()
                batch = math.prod(out[:-2]) if len(out) > 2 and p['m'] % math.prod(out[:-2]) == 0 else 1
                rec = dict(batch=batch, m=p['m'] // batch, n=p['n'], kk=p['k'])
        except (KeyError, TypeError, ZeroDivisionError): continue
        yield (c[0], c[1]), rec, o.flops


def gemm_shape(prim, r):
    "(m, n, k) of a shape record, as the estimator places ops (`calibkit.estimate._features`)."
    if prim == 'op_conv2d':
        ho = (r['hw'] + 2 * (r['k'] // 2) - r['k']) // r['stride'] + 1
        return r['batch'] * ho * ho, r['cout'], r['cin'] // r['groups'] * r['k'] ** 2
    if prim == 'op_linear': return r['m'], r['dout'], r['din']
    if prim == 'op_se': return r['batch'] * r['hw'] ** 2, r['channels'], r['squeeze']
    return r['batch'] * r['m'], r['n'], r['kk']


M_STEPS = (1., .5)      # the pixel axis's bin width in octaves: the log2 grid, then one half as coarse


def select(found_all, m_step:float, per_class:int, min_share:float) -> list:
    "The shapes kept on the grid whose m axis is binned `m_step` octaves wide (n and k: one octave), in class order."
    share = defaultdict(float)      # (class, bin, model, configuration) -> share of that configuration's FLOPs
    best = {}                       # (class, bin) -> (FLOPs, record) of its heaviest shape
    for name, cfg, found in found_all:
        total = sum(f for *_, f in found) or 1.
        for key, rec, flops in found:
            m, n, k = (math.log2(max(v, 1)) for v in gemm_shape(key[0], rec))
            b = (key, (round(m / m_step) * m_step, round(n), round(k)))
            share[b + (name, cfg)] += flops / total
            if flops > best.get(b, (0.,))[0]: best[b] = (flops, rec)
    top = defaultdict(float)        # (class, bin) -> the largest share of one configuration's FLOPs in it
    for (key, cell, *_), v in share.items(): top[key, cell] = max(top[key, cell], v)
    per = defaultdict(list)
    for (key, cell), (_, rec) in best.items(): per[key].append((top[key, cell], rec))
    out = []
    for (prim, cls), cells in sorted(per.items()):
        keep = per_class * (3 if prim in ('op_linear', 'op_se') else 1)    # one class spans every width and length
        for i, (t, rec) in enumerate(sorted(cells, key=lambda c: -c[0])):
            if i < keep or (t >= min_share and prim != 'op_se'): out.append(dict(primitive=prim, cls=cls, **rec))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=str(OUT))
    ap.add_argument('--per-class', type=int, default=16)
    ap.add_argument('--min-share', type=float, default=.01)
    a = ap.parse_args()
    from calibkit.graph import extract
    found_all = []                  # (model, configuration, what shapes_of found)
    for source, name, family, kind in DESIGN:
        m = build(source, name)
        for cfg, (prec, batch, size) in CONFIGS.items():
            if prec != 'fp32' or (size and kind != 'cnn'): continue
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                g = extract(m, make_input(source, name, kind, m, batch, size, torch.float32), name)
            found_all.append((name, cfg, list(shapes_of(g))))
        print(f"{name}: {sum(len(f) for *_, f in found_all)} ops so far", flush=True)
    out = {'source': 'perf/harvest_shapes.py over the DESIGN models of perf/estimate_accuracy.py',
           'per_class': a.per_class, 'min_share': a.min_share, 'm_steps': list(M_STEPS), 'shapes': []}
    for step in M_STEPS:
        for s in select(found_all, step, a.per_class, a.min_share):
            if s not in out['shapes']: out['shapes'].append(s)
    Path(a.out).write_text(json.dumps(out, indent=1) + '\n')
    counts = defaultdict(int)
    for s in out['shapes']: counts[s['primitive']] += 1
    print(f"kept {len(out['shapes'])} shapes: {dict(counts)} -> {a.out}")


if __name__ == '__main__': main()
