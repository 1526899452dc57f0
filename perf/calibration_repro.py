#!/usr/bin/env python
"""How far two full calibrations of one host, made minutes apart, agree: entry by entry, under each statistic a
profile could be read with. Reads the profiles `perf/estimate_accuracy.py --profiles` kept of each run
(`perf/results/estimate_accuracy_v*_profiles/{first,second}.json`); measures nothing.

For every entry both calibrations timed (the operator grid's shapes; the reference models timed whole), at each
precision: log(first / second). Splits it as the bench splits its estimates: the part common to every entry (the
median: the host as a whole faster or slower) and the scatter around it (median |difference - common|).

The statistics, each computable from what a profile stores:
- `median`: the entry's median over all its rounds (what the estimator reads today);
- `quietest round`: the median of its fastest round (the host at its least disturbed during that entry);
- `fastest call`: its fastest single call;
- `slow rounds out`: the median of its rounds after leaving out the rounds in which the whole grid (or the whole set
  of reference models) ran more than 5% slower than in its fastest round.

Issue 13's target needs the calibration-to-calibration difference within 3% at the median: if the common part moves
by several percent whatever the statistic, the host, not the way a calibration reads its timings, sets that figure.

    python perf/calibration_repro.py [--results perf/results]
"""
import argparse, json, math, re, statistics as st
from pathlib import Path
from rich.console import Console
from rich.table import Table

KINDS = {'grid': 'op_', 'references': 'reference_model'}
DROP = 0.05                     # `slow rounds out`: a round this much slower than the set's fastest is left out


def slow_rounds(results: list) -> set:
    "The rounds in which the set `results` (equal round counts) ran more than `DROP` slower than in its fastest."
    rs = [r['round_medians_ms'] for r in results]
    n = len(rs[0])
    h = [st.median(math.log(r[i] / st.median(r)) for r in rs) for i in range(n)]
    return {i for i in range(n) if h[i] - min(h) > math.log1p(DROP)}


def readings(profile: dict, prefix: str, precision: str) -> dict:
    "{entry: {statistic: ms}} of the entries whose key starts with `prefix`, at `precision`."
    res = {k: o['precision_results'][precision] for k, o in profile['operation_profiles'].items()
           if k.startswith(prefix) and precision in o['precision_results']}
    res = {k: r for k, r in res.items() if r.get('median_latency_ms')}
    out, by_n = {}, {}
    for k, r in res.items(): by_n.setdefault(len(r.get('round_medians_ms') or []), []).append(k)
    for n, ks in by_n.items():
        slow = slow_rounds([res[k] for k in ks]) if n >= 2 and len(ks) >= 3 else set()
        for k in ks:
            r, rm = res[k], res[k].get('round_medians_ms') or []
            kept = [x for i, x in enumerate(rm) if i not in slow]
            out[k] = {'median': r['median_latency_ms'], 'quietest round': min(rm, default=r['median_latency_ms']),
                      'fastest call': r.get('min_latency_ms') or r['median_latency_ms'],
                      'slow rounds out': st.median(kept) if slow and kept else r['median_latency_ms']}
    return out


def compare(a: dict, b: dict, prefix: str) -> dict:
    "{statistic: (entries, common, scatter, share within 5%)} of log(a / b) over the entries both timed."
    logs = {}
    for p in ('fp32', 'bf16', 'fp16'):
        ra, rb = readings(a, prefix, p), readings(b, prefix, p)
        for k in ra.keys() & rb.keys():
            for s, v in ra[k].items(): logs.setdefault(s, []).append(math.log(v / rb[k][s]))
    out = {}
    for s, ls in logs.items():
        c = st.median(ls)
        w5 = sum(abs(x) <= math.log(1.05) for x in ls) / len(ls)
        out[s] = (len(ls), math.expm1(c), st.median(abs(x - c) for x in ls), w5)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--results', default=str(Path(__file__).parent / 'results'))
    a = ap.parse_args()
    runs = sorted(Path(a.results).glob('estimate_accuracy_v*_profiles'),
                  key=lambda p: int(re.search(r'_v(\d+)_', p.name)[1]))
    con, t = Console(width=200), Table(title='Two full calibrations minutes apart: first / second, entry by entry')
    for c in ('run', 'entries', 'statistic', 'count', 'common (host)', 'scatter around it', 'within 5%'):
        t.add_column(c)
    summary, runs = {}, [r for r in runs if (r / 'first.json').exists() and (r / 'second.json').exists()]
    for run in runs:
        first, second = (json.loads((run / f'{n}.json').read_text()) for n in ('first', 'second'))
        v = re.search(r'_(v\d+)_', run.name)[1]
        for kind, prefix in KINDS.items():
            for s, (n, common, scatter, w5) in compare(first, second, prefix).items():
                t.add_row(v, kind, s, str(n), f"{common:+.1%}", f"{math.expm1(scatter):.1%}", f"{w5:.0%}")
                summary.setdefault((kind, s), []).append((abs(common), math.expm1(scatter), w5))
        t.add_section()
    con.print(t)
    s = Table(title=f'Over the {len(runs)} runs: medians')
    for c in ('entries', 'statistic', '|common| (host)', 'scatter around it', 'within 5%'): s.add_column(c)
    for (kind, stat), xs in summary.items():
        s.add_row(kind, stat, *(f"{st.median(x[i] for x in xs):.1%}" for i in range(3)))
    con.print(s)


if __name__ == '__main__':
    main()
