"""How often the stated interval would have held with each shape of conformal bound, on runs already measured.

    .venv/bin/python perf/interval_shapes.py ROWS.jsonl PROFILE.json [ROWS.jsonl PROFILE.json ...]

Each pair is a run of perf/estimate_accuracy.py: its rows (measured and estimated latency per case) and the first
calibration it estimated from. For every case the interval is rebuilt from that profile's reference models and random
networks (their held-out scores, one per network and round, as `Estimator.interval` takes them) in two shapes, and
widened by the case's match uncertainty as the estimator widens it:

- 'equal tails': the k-th smallest and k-th largest score, k = ⌊(n+1)(1-0.8)/2⌋ (calibkit until session 27);
- 'symmetric': ± the ⌈(n+1)·0.8⌉-th smallest |score| (`calibkit.estimate.conformal_bounds` since).

Prints per run, side and configuration the share of cases each interval held and its median width (high over low,
less one). No measuring: the same measurements, two intervals.
"""
import json, math, statistics, sys, warnings
from pathlib import Path
from rich.console import Console
from rich.table import Table
from calibkit.schema import HardwareCalibration
from calibkit.estimate import CONFIDENCE, Estimator, _excess, conformal_bounds, held_out_scores

CONFIGS = ('fp32-b1', 'bf16-b1', 'fp32-b8', 'fp32-b1-160')


def equal_tails(scores:list, confidence:float=CONFIDENCE) -> tuple:
    "(low, high): the k-th smallest and k-th largest of the scores, k = ⌊(n+1)(1-confidence)/2⌋."
    s, n = sorted(scores), len(scores)
    k = math.floor((n + 1) * (1 - confidence) / 2 + 1e-9)
    return s[k - 1], s[n - k]


def shapes(cal) -> dict:
    "precision -> (bounds per shape, the references' match uncertainties), from `cal`'s references."
    out = {}
    for p in ('fp32', 'bf16'):
        refs = Estimator(cal, p).references()
        s = held_out_scores(refs)
        out[p] = {'equal tails': equal_tails(s), 'symmetric': conformal_bounds(s)}, [r.uncertainty for r in refs]
    return out


def held(rows:list, bounds:dict) -> dict:
    "(side, config, shape) -> [(held, width)] of every measured case of `rows`."
    out = {}
    for r in rows:
        if r.get('error') or r.get('estimate_ms') is None: continue
        b, ref_u = bounds[r['config'].split('-')[0]]
        ex = _excess(r['match_uncertainty'], ref_u)
        for shape, (lo_s, hi_s) in b.items():
            lo, hi = r['estimate_ms'] * math.exp(min(lo_s, 0) - ex), r['estimate_ms'] * math.exp(max(hi_s, 0) + ex)
            out.setdefault((r['side'], r['config'], shape), []).append((lo <= r['measured_ms'] <= hi, hi / lo - 1))
    return out


def main(args:list):
    if not args or len(args) % 2: sys.exit(__doc__)
    con, t = Console(width=150), Table(title='80% interval: share of cases it held (median width), two shapes')
    for c in ('run', 'precision: bounds', 'side', *CONFIGS): t.add_column(c)
    for rows_f, prof_f in zip(args[::2], args[1::2]):
        rows = [json.loads(l) for l in Path(rows_f).read_text().splitlines() if l.strip()]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            b = shapes(HardwareCalibration.model_validate_json(Path(prof_f).read_text()))
        res = held(rows, b)
        for shape in ('equal tails', 'symmetric'):
            said = '; '.join(f"{p} {math.expm1(b[p][0][shape][0]):+.0%}/{math.expm1(b[p][0][shape][1]):+.0%}"
                             for p in b)
            for side in ('design', 'report'):
                cells = [res.get((side, c, shape), []) for c in CONFIGS]
                t.add_row(Path(rows_f).name, f"{shape}: {said}", side, *(
                    f"{sum(h for h, _ in v) / len(v):.0%} ({statistics.median(w for _, w in v):.0%})" if v else '-'
                    for v in cells))
        t.add_section()
    con.print(t)


if __name__ == '__main__': main(sys.argv[1:])
