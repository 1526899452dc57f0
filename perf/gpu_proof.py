"""The CUDA proof's second half (issue 16): a GPU profile checked against its datasheet and against real models.

    python3 perf/gpu_proof.py --profile hardware_registry/gpu/<id>/calibrations/<name>.json --out DIR
                              [--clocks nvidia-smi.csv] [--models a,b] [--precisions fp32,tf32,bf16] [--batches 1,32]

Run by `perf/gpu_proof.sh` on the GPU machine, right after the calibration that wrote the profile.

1. **Plausibility against the datasheet**: each precision's best GEMM rate against the preset's theoretical peak,
   the DRAM-sized STREAM bandwidth against the nominal HBM figure, the bandwidth per level, and the SM and memory
   clocks nvidia-smi saw during the calibration (`--clocks`, written by gpu_proof.sh). Over 110% or under 20% of
   theoretical is flagged with what explains it.
2. **Estimates against measurements**: every model below (torchvision CNNs and ViTs, timm, Hugging Face transformers;
   built without weights) at each precision and batch size, on the GPU: the graph captured there, estimated from the
   profile alone, then timed with CUDA events (`calibkit.validate.measure_model`: no_grad, warm-up, median) at the
   same tf32 setting the estimate assumed. Per case: error, whether the stated interval held, and where the estimate
   puts the time (launch-bound ops, top op types); for image models also the error by op type, from CUDA events
   around each op (`calibkit.validate.profile_ops`).
3. Writes `gpu_proof.json` (every figure) and `gpu_proof.md` (the tables) into --out, and prints the tables.

Not a test: nothing asserts; it prints what it measured.
"""
import argparse, csv, json, statistics, sys, time, traceback, warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from estimate_accuracy import build, make_input, run  # noqa: E402  (the same model builders as the CPU bench)

MODELS = [  # (source, name, kind)
    ('torchvision', 'resnet18', 'cnn'), ('torchvision', 'resnet50', 'cnn'), ('torchvision', 'mobilenet_v2', 'cnn'),
    ('torchvision', 'mobilenet_v3_large', 'cnn'), ('torchvision', 'efficientnet_b0', 'cnn'),
    ('torchvision', 'convnext_tiny', 'cnn'), ('torchvision', 'regnet_y_400mf', 'cnn'),
    ('torchvision', 'densenet121', 'cnn'), ('torchvision', 'vit_b_16', 'vision'), ('torchvision', 'swin_t', 'vision'),
    ('timm', 'ghostnet_100', 'cnn'), ('timm', 'mobilevit_xs', 'vision'),
    ('hf', 'bert_small', 'text'), ('hf', 'distilgpt2', 'text'),
]
DTYPES = {'fp32': torch.float32, 'tf32': torch.float32, 'bf16': torch.bfloat16}


def to_cuda(x):
    return {k: v.cuda() for k, v in x.items()} if isinstance(x, dict) else x.cuda()


def plausibility(cal, clocks_csv):
    "Peaks against theoretical, DRAM against nominal, clocks under load: rows with a verdict each."
    pm = cal.precision_matrix
    peaks, theo = pm.peak_gflops_by_precision, pm.theoretical_peaks or {}
    rows = []
    for p, g in peaks.items():
        t = theo.get(p)
        eff = g / t if t else None
        verdict = ('no theoretical figure' if eff is None else 'ABOVE 110%: see the note' if eff > 1.1 else
                   'under 20%: implausibly low' if eff < .2 else 'plausible')
        rows.append(dict(what=f"GEMM peak {p}", measured=g / 1e3, unit='TFLOPS' if not p.startswith('int') else 'TOPS',
                         theoretical=t / 1e3 if t else None, efficiency=eff, verdict=verdict))
    nominal = cal.theoretical_bandwidth_gbps
    bw = cal.measured_bandwidth_gbps
    rows.append(dict(what='DRAM (HBM) bandwidth, STREAM triad median', measured=bw, unit='GB/s', theoretical=nominal,
                     efficiency=bw / nominal if bw and nominal else None,
                     verdict='plausible' if bw and nominal and .5 < bw / nominal <= 1.1 else 'check'))
    for lvl, v in (cal.bandwidth_by_level or {}).items():
        rows.append(dict(what=f"bandwidth at level {lvl}", measured=v, unit='GB/s', theoretical=None, efficiency=None,
                         verdict='info'))
    clk = clock_stats(clocks_csv) if clocks_csv and Path(clocks_csv).exists() else {}
    return rows, clk


def clock_stats(path):
    "Median / max of nvidia-smi's samples while the GPU was busy (utilisation >= 50%), and the throttle reasons seen."
    rows = list(csv.reader(open(path)))
    busy = []
    for r in rows:
        try: sm, mem, mx, pw, temp, util = (float(v) for v in r[1:7])
        except (ValueError, IndexError): continue
        if util >= 50: busy.append((sm, mem, mx, pw, temp, r[7].strip() if len(r) > 7 else ''))
    if not busy: return dict(samples=len(rows), busy_samples=0)
    col = lambda i: [b[i] for b in busy]
    return dict(samples=len(rows), busy_samples=len(busy), sm_mhz_median=statistics.median(col(0)),
                sm_mhz_min=min(col(0)), sm_mhz_max=max(col(0)), sm_mhz_max_rated=max(col(2)),
                mem_mhz_median=statistics.median(col(1)), power_w_median=statistics.median(col(3)),
                power_w_max=max(col(3)), temp_c_max=max(col(4)),
                throttle_reasons=sorted({b[5] for b in busy}))


def where_time_goes(e):
    "The estimate's own view: share of launch/overhead-bound time and the top op types by estimated time."
    by = {}
    for o in e.ops: by[o.op.op_type.value] = by.get(o.op.op_type.value, 0.) + o.ms
    top = sorted(by.items(), key=lambda kv: -kv[1])[:3]
    ov = sum(o.ms for o in e.ops if o.bound == 'overhead')
    return dict(ops=len(e.ops), overhead_share=ov / e.total_ms if e.total_ms else 0.,
                approximated=e.match_shares()['approximated_time'],
                top=[(k, round(v / e.total_ms, 3)) for k, v in top])


def one_case(source, name, kind, base, prec, batch, cal, attribute):
    from calibkit.graph import extract
    from calibkit.estimate import estimate
    from calibkit.validate import measure_model, profile_ops, Validation
    m = base.to('cuda', DTYPES[prec])
    x = to_cuda(make_input(source, name, kind, base, batch, None, DTYPES[prec]))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        g = extract(m, x, f"{name} {prec} b{batch}")
    e = estimate(g, cal, precision=prec)
    t = measure_model(m, x, budget_s=1.0, precision=prec)
    row = dict(source=source, model=name, precision=prec, batch=batch, measured_ms=t.median_s * 1e3,
               measured_ci=(t.ci_low_s * 1e3, t.ci_high_s * 1e3), estimate_ms=e.total_ms, low_ms=e.low_ms,
               high_ms=e.high_ms, **where_time_goes(e))
    row['error'] = e.total_ms / row['measured_ms'] - 1
    row['inside'] = bool(e.low_ms <= row['measured_ms'] <= e.high_ms)
    if attribute and not isinstance(x, dict):
        try:
            v = Validation(e, row['measured_ms'], row['measured_ci'], profile_ops(g, m, x, reps=3, precision=prec))
            a = v.attribution('op_type').head(3)
            row['error_by_op_type'] = [(k, int(r.ops), round(r.estimated_ms, 4), round(r.measured_ms, 4))
                                       for k, r in a.iterrows()]
            row['profiled_sum_ms'] = sum(v.op_measured.values())
        except Exception as ex: row['attribution_error'] = f"{type(ex).__name__}: {ex}"[:200]
    return row


def md_table(head, rows):
    return '\n'.join(['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)] +
                     ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--profile', required=True)
    ap.add_argument('--out', default='.')
    ap.add_argument('--clocks')
    ap.add_argument('--models')
    ap.add_argument('--precisions', default='fp32,tf32,bf16')
    ap.add_argument('--batches', default='1,32')
    ap.add_argument('--no-attribution', action='store_true')
    ap.add_argument('--deadline', type=float, help='epoch seconds: start no case after it')
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_proof.py measures models on a CUDA GPU and none is visible here (torch.cuda.is_available() is "
                 "False): run it on a machine with an NVIDIA GPU and a CUDA build of PyTorch (perf/gpu_proof.sh estimate).")
    from calibkit.schema import HardwareCalibration
    cal = HardwareCalibration.load(a.profile)
    if cal.metadata.device_type != 'cuda':
        sys.exit(f"{a.profile} is a {cal.metadata.device_type} profile: pass a CUDA one (hardware_registry/gpu/"
                 "<id>/calibrations/*.json, made by perf/gpu_proof.sh calibrate).")
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    plaus, clocks = plausibility(cal, a.clocks)
    models = [m for m in MODELS if not a.models or m[1] in a.models.split(',')]
    precs, batches = a.precisions.split(','), [int(b) for b in a.batches.split(',')]
    rows, failures, t0 = [], [], time.perf_counter()
    for source, name, kind in models:
        try: base = build(source, name)
        except Exception as ex:
            failures.append(dict(model=name, stage='build', error=f"{type(ex).__name__}: {ex}"[:300])); continue
        for prec in precs:
            for batch in batches:
                if a.deadline and time.time() > a.deadline:
                    failures.append(dict(model=name, precision=prec, batch=batch, stage='skipped: deadline'))
                    continue
                try:
                    r = one_case(source, name, kind, base, prec, batch, cal, not a.no_attribution)
                    rows.append(r)
                    print(f"{name:<20} {prec:<5} b{batch:<3} measured {r['measured_ms']:8.3f} ms  estimate "
                          f"{r['estimate_ms']:8.3f} [{r['low_ms']:.3f}-{r['high_ms']:.3f}]  {r['error']:+7.1%}  "
                          f"{'inside' if r['inside'] else 'OUTSIDE'}  launch-bound {r['overhead_share']:.0%}",
                          flush=True)
                except Exception as ex:
                    failures.append(dict(model=name, precision=prec, batch=batch, stage='case',
                                         error=f"{type(ex).__name__}: {ex}"[:300], trace=traceback.format_exc()[-800:]))
                    print(f"{name} {prec} b{batch}: FAILED {type(ex).__name__}: {str(ex)[:200]}", flush=True)
                torch.cuda.empty_cache()
    summary = {}
    for prec in precs:
        for batch in batches:
            rs = [r for r in rows if r['precision'] == prec and r['batch'] == batch]
            if rs: summary[f"{prec} b{batch}"] = dict(
                cases=len(rs), median_abs_error=statistics.median(abs(r['error']) for r in rs),
                within_20=sum(abs(r['error']) <= .2 for r in rs) / len(rs),
                interval_held=sum(r['inside'] for r in rs) / len(rs),
                median_signed_error=statistics.median(r['error'] for r in rs))
    meta = cal.metadata
    doc = dict(profile=a.profile, gpu=meta.gpu_model, torch=meta.torch_version, cuda=meta.cuda_version,
               calibration_seconds=(meta.preflight or {}).get('sweep_seconds'), plausibility=plaus, clocks=clocks,
               summary=summary, rows=rows, failures=failures, estimate_seconds=round(time.perf_counter() - t0, 1))
    (out / 'gpu_proof.json').write_text(json.dumps(doc, indent=1, default=str))
    pct = lambda v: '' if v is None else f"{v:.0%}"
    md = [f"# CUDA proof: {meta.gpu_model}", '', f"Profile `{a.profile}`; torch {meta.torch_version}, CUDA "
          f"{meta.cuda_version}; sweep {doc['calibration_seconds']} s.", '', '## Against the datasheet', '',
          md_table(['figure', 'measured', 'unit', 'theoretical', 'efficiency', 'verdict'],
                   [(r['what'], f"{r['measured']:.1f}" if r['measured'] else '-', r['unit'],
                     f"{r['theoretical']:.1f}" if r['theoretical'] else '-', pct(r['efficiency']), r['verdict'])
                    for r in plaus]), '', '## Clocks during the calibration (nvidia-smi, busy samples)', '',
          md_table(['figure', 'value'], list(clocks.items())), '', '## Estimates against measurements', '',
          md_table(['model', 'precision', 'batch', 'measured ms', 'estimate ms', 'interval', 'error', 'held',
                    'launch-bound share', 'top op types (share of estimate)'],
                   [(r['model'], r['precision'], r['batch'], f"{r['measured_ms']:.3f}", f"{r['estimate_ms']:.3f}",
                     f"{r['low_ms']:.3f}-{r['high_ms']:.3f}", f"{r['error']:+.1%}", 'yes' if r['inside'] else 'no',
                     pct(r['overhead_share']), ', '.join(f"{k} {v:.0%}" for k, v in r['top'])) for r in rows]),
          '', '## Summary', '',
          md_table(['config', 'cases', 'median abs error', 'median signed', 'within ±20%', 'interval held'],
                   [(k, s['cases'], pct(s['median_abs_error']), f"{s['median_signed_error']:+.0%}",
                     pct(s['within_20']), pct(s['interval_held'])) for k, s in summary.items()]),
          '', f"Failures: {sum(f['stage'] != 'skipped: deadline' for f in failures)}; skipped at the deadline: "
          f"{sum(f['stage'] == 'skipped: deadline' for f in failures)}", ''] + [
          f"- {f}" for f in failures if f['stage'] != 'skipped: deadline']
    (out / 'gpu_proof.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__': main()
