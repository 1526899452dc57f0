"""Accuracy of calibkit's latency estimates on this host, over torchvision models, and a plain roofline for scale.

    .venv/bin/python perf/estimate_accuracy.py [--quick-operators] [--models a,b,c] [--rounds N]

1. Calibrates this machine in the same run (PyTorch, fp32: STREAM, BLAS2, BLAS3 and the operator grid).
2. For each model (fp32, batch 1, PyTorch eager, no_grad): the estimate from that profile and the graph only (no
   per-model fitting), the measured median latency, and their error; also a plain roofline (each op at the peak GEMM
   throughput or the DRAM bandwidth, whichever is slower, nothing else).
3. Prints the table, the median absolute error and the share of models within ±20%.
With --rounds N (default 1) steps 1-2 are repeated N times, each round calibrating again right before its
measurements, and each model's error is the median over the rounds: the neighbours on a shared machine come and go
within a minute, and one unlucky round should not decide the result. Within a round every model is measured in
--bursts short bursts (default 3), the models taking turns, so that each model's figure spans the round's measuring
time instead of one few-second window; the bursts' samples are pooled.
The process runs in the allocator's steady state that the calibration describes (`calibkit.timing.steady_allocator`;
with glibc's defaults PyTorch eager faults some models' activations back in on every forward: SqueezeNet and
MobileNetV2 took 1,500-2,300 faults, +40%, on the development machine); the table shows the faults per forward.
--default-allocator leaves glibc's defaults, to see that effect.
Targets (issue 6): median |error| <= 15% and >= 70% of the models within ±20%. Reported twice: medians on both sides
(estimate from each entry's median, measured median) and minima on both sides (this shared machine's neighbours only
ever add time, so the minimum is the reproducible figure). Not a test: nothing asserts.
"""
import argparse, dataclasses, statistics, time
import torch
from rich.console import Console
from rich.table import Table
from calibkit.calibrate import calibrate, QUICK, FULL
from calibkit.estimate import estimate
from calibkit.timing import measure, combine, steady_allocator
from calibkit.graph import load_model, default_input, extract

MODELS = ['resnet18', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'mobilenet_v3_large', 'efficientnet_b0', 'vit_b_16',
          'squeezenet1_1', 'shufflenet_v2_x1_0', 'mnasnet1_0', 'regnet_y_400mf', 'densenet121', 'googlenet', 'alexnet', 'convnext_tiny']

def roofline_ms(g, cal):
    "Each op at max(FLOPs / peak fp32 GEMM, bytes / DRAM bandwidth): the plain roofline."
    peak = cal.precision_matrix.peak_gflops_by_precision['fp32'] * 1e9
    bw = cal.measured_bandwidth_gbps * 1e9
    return sum(max(o.flops / peak, o.bytes / bw) for o in g.ops) * 1e3

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick-operators', action='store_true', help='the quick operator grid (faster, coarser)')
    ap.add_argument('--models', help='comma-separated torchvision names (default: 15 models)')
    ap.add_argument('--rounds', type=int, default=1, help='calibrate-then-measure rounds; per-model error = median over rounds')
    ap.add_argument('--bursts', type=int, default=3, help='measuring bursts per model and round, the models taking turns')
    ap.add_argument('--default-allocator', action='store_true', help="glibc's default allocator settings (page faults on some models)")
    a = ap.parse_args()
    names = a.models.split(',') if a.models else MODELS
    models = {n: (load_model(n).eval(), default_input(n)) for n in names}
    graphs = {n: extract(m, x, n) for n, (m, x) in models.items()}
    per = {n: {'median': [], 'min': [], 'roof': [], 'meas': [], 'est': [], 'band': [], 'mmin': [], 'emin': [], 'faults': []} for n in names}
    settings = dataclasses.replace(QUICK if a.quick_operators else FULL, steady_allocator=not a.default_allocator)
    if not a.default_allocator: steady_allocator()
    tcal = 0.
    for r in range(a.rounds):
        t0 = time.perf_counter()
        cal = calibrate('auto', framework='pytorch', precisions='fp32', operations='stream,blas2,blas3,operators', quick=a.quick_operators,
                        settings=settings, verbose=False, progress=False)
        tcal += time.perf_counter() - t0
        timings = {n: [] for n in names}
        with torch.no_grad():
            for b in range(a.bursts):                      # the models take turns; the order rotates between bursts
                k = (r * a.bursts + b) % len(names)
                for n in names[k:] + names[:k]:
                    m, x = models[n]
                    timings[n].append(measure(lambda: m(x), warmup=1 if timings[n] else 3, min_reps=3, max_reps=200,
                                              budget_s=3.0 / a.bursts, min_time_s=0.5 / a.bursts))
        for n in names:
            g, t = graphs[n], combine(timings[n])
            meas = {'median': t.median_s * 1e3, 'min': t.min_s * 1e3}
            est = {s_: estimate(g, cal, statistic=s_) for s_ in meas}
            d = per[n]
            for s_ in meas: d[s_].append(est[s_].total_ms / meas[s_] - 1)
            d['roof'].append(roofline_ms(g, cal) / meas['median'] - 1)
            d['meas'].append(meas['median']); d['est'].append(est['median'].total_ms); d['band'].append(est['median'].band_ms)
            d['mmin'].append(meas['min']); d['emin'].append(est['min'].total_ms); d['faults'].append(t.faults_per_call or 0.)
    med = statistics.median
    rows, errs, roof = [], {'median': [], 'min': []}, []
    for n in names:
        d, g = per[n], graphs[n]
        for s_ in errs: errs[s_].append(med(d[s_]))
        roof.append(med(d['roof']))
        rows.append((n, str(len(g.ops)), f"{g.flops/1e9:.2f}", f"{med(d['meas']):.2f}", f"{med(d['est']):.2f} ± {med(d['band']):.2f}",
                     f"{med(d['median']):+.1%}", f"{med(d['mmin']):.2f}", f"{med(d['emin']):.2f}", f"{med(d['min']):+.1%}", f"{roof[-1]:+.0%}",
                     f"{med(d['faults']):.0f}"))
    t = Table(title=f"Estimate vs measured, fp32 batch 1, PyTorch eager, {torch.get_num_threads()} threads, {a.rounds} round(s), "
                    f"calibration {tcal/a.rounds:.0f} s per round in the same run; medians over rounds; "
                    f"allocator {'glibc defaults' if a.default_allocator else 'steady'}")
    for c in ('model', 'ops', 'GFLOP', 'measured median ms', 'estimate (medians) ms', 'error', 'measured min ms', 'estimate (minima) ms',
              'error', 'plain roofline error', 'page faults per forward'): t.add_column(c)
    for r in rows: t.add_row(*r)
    con = Console(width=190)
    con.print(t)
    for s, e in errs.items():
        med, within = statistics.median(abs(x) for x in e), sum(abs(x) <= .2 for x in e) / len(e)
        con.print(f"({s} latencies on both sides) median |error| {med:.1%} (target <= 15%): {'✓' if med <= .15 else '✗'};  within ±20%: "
                  f"{within:.0%} of {len(e)} models (target >= 70%): {'✓' if within >= .7 else '✗'}")
    con.print(f"plain roofline (peak GEMM and DRAM bandwidth only): median |error| {statistics.median(abs(x) for x in roof):.0%}")

if __name__ == '__main__': main()
