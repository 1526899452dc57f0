"""The GEMM-like shapes the design-side models use, for the operator grid (issue 13: calibrate where models live).

    .venv/bin/python perf/harvest_shapes.py [--out calibkit/bench/model_shapes.json] [--per-class N]

Captures every DESIGN model of perf/estimate_accuracy.py (never a REPORT one) at fp32 in each configuration the
evaluation uses (batch 1 at its own resolution and at 160² for the CNNs, batch 8), and collects its convolutions,
linear layers and batched matmuls with their shapes. Shapes are binned per operator class on a log2 grid of their
GEMM shape (m, n, k: output pixels × batch, output channels, input channels per group × kernel area); a bin keeps the
shape that carries the most FLOPs in it, and each class keeps its bins by how many FLOPs fall in them, at most
--per-class (three times that for linear layers, all one class). The result is package data (`calibkit.bench.operators.model_cases` reads it): the calibration times those
shapes on the device, so the estimator finds a timed shape near every op of a model like these. Prints the counts.
"""
import argparse, json, math, sys, warnings
from collections import defaultdict
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
from estimate_accuracy import DESIGN, CONFIGS, build, make_input

OUT = Path(__file__).resolve().parent.parent / 'calibkit' / 'bench' / 'model_shapes.json'


def shapes_of(g):
    "(class key, shape record, FLOPs) of every convolution, linear layer and batched matmul of graph `g`."
    from calibkit.graph import OT
    from calibkit.mapping import op_class
    for o in g.ops:
        c = op_class(o)
        if c is None or c[0] not in ('op_conv2d', 'op_linear', 'op_matmul'): continue
        p = o.params
        try:
            if c[0] == 'op_conv2d':
                (kh, kw), (sh, sw), (ho, wo) = p['kernel'], p['stride'], p['hw']
                if kh != kw or sh != sw: continue                 # the grid times square kernels and strides
                batch = max(1, round(p['m'] / (ho * wo)))
                rec = dict(cin=p['cin'], cout=p['cout'], hw=ho * sh, k=kh, stride=sh, groups=p['groups'], batch=batch)
            elif c[0] == 'op_linear': rec = dict(m=p['m'], din=p['k'], dout=p['n'])
            else: rec = dict(batch=p.get('batch', 1), m=p['m'], n=p['n'], kk=p['k'])
        except (KeyError, TypeError, ZeroDivisionError): continue
        yield (c[0], c[1]), rec, o.flops


def gemm_shape(prim, r):
    "(m, n, k) of a shape record, as the estimator places ops (`calibkit.estimate._features`)."
    if prim == 'op_conv2d':
        ho = (r['hw'] + 2 * (r['k'] // 2) - r['k']) // r['stride'] + 1
        return r['batch'] * ho * ho, r['cout'], r['cin'] // r['groups'] * r['k'] ** 2
    if prim == 'op_linear': return r['m'], r['dout'], r['din']
    return r['batch'] * r['m'], r['n'], r['kk']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=str(OUT))
    ap.add_argument('--per-class', type=int, default=12)
    a = ap.parse_args()
    from calibkit.graph import extract
    bins = defaultdict(lambda: [0., None, 0.])      # (class, log2 bin) -> [FLOPs in bin, best record, its FLOPs]
    for source, name, family, kind in DESIGN:
        m = build(source, name)
        for cfg, (prec, batch, size) in CONFIGS.items():
            if prec != 'fp32' or (size and kind != 'cnn'): continue
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                g = extract(m, make_input(source, name, kind, m, batch, size, torch.float32), name)
            for key, rec, flops in shapes_of(g):
                b = (key, tuple(round(math.log2(max(v, 1))) for v in gemm_shape(key[0], rec)))
                cell = bins[b]
                cell[0] += flops
                if flops > cell[2]: cell[1], cell[2] = rec, flops
        print(f"{name}: {len(bins)} bins so far", flush=True)
    per = defaultdict(list)
    for (key, _), (tot, rec, _) in bins.items(): per[key].append((tot, rec))
    out = {'source': 'perf/harvest_shapes.py over the DESIGN models of perf/estimate_accuracy.py',
           'per_class': a.per_class, 'shapes': []}
    for (prim, cls), cells in sorted(per.items()):
        keep = a.per_class * (3 if prim == 'op_linear' else 1)     # one linear class spans every width and length
        for tot, rec in sorted(cells, key=lambda c: -c[0])[:keep]:
            out['shapes'].append(dict(primitive=prim, cls=cls, **rec))
    Path(a.out).write_text(json.dumps(out, indent=1) + '\n')
    counts = defaultdict(int)
    for s in out['shapes']: counts[s['primitive']] += 1
    print(f"{len(bins)} bins in {len(per)} classes; kept {len(out['shapes'])} shapes: {dict(counts)} -> {a.out}")


if __name__ == '__main__': main()
