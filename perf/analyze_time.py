"""How long `coverage.analyze` takes (capture included) on every torchvision classifier, in one quiet process: the
median against the issue's 0.3 s (the resnet50 class), and the models of 1,000 ops or more against 2 s.

    python perf/analyze_time.py [--hardware amd_epyc_2cpu] [--limit N]

Models are built first, then each is captured and analysed twice; the faster run counts (the first pays one-time
imports and allocator warm-up). Run it on an otherwise idle machine: the figures are wall-clock times.
"""
import argparse, statistics, time, warnings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--hardware', default='amd_epyc_2cpu', help='registry id or profile for coverage.analyze')
    ap.add_argument('--limit', type=int, default=0, help='at most this many models (0: all)')
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    import torch, torchvision
    from calibkit.graph import load_model, default_input
    from calibkit.coverage import analyze
    from calibkit.registry import resolve
    torch.set_num_threads(2)
    cal = resolve(a.hardware)[0]
    rows = []
    for name in torchvision.models.list_models(module=torchvision.models)[:a.limit or None]:
        m, x = load_model(name), default_input(name)
        best, ops = float('inf'), 0
        for _ in range(2):
            t0 = time.perf_counter()
            r = analyze(m, cal, example_input=x)
            best, ops = min(best, time.perf_counter() - t0), len(r.ops)
        rows.append((name, ops, best))
        print(f"  {name:<28} {ops:>5} ops  {best:6.2f} s", flush=True)
    times = [t for _, _, t in rows]
    big = [(n, o, t) for n, o, t in rows if o >= 1000]
    print(f"\n{len(rows)} models: median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
          f"{sum(t <= 0.3 for t in times)}/{len(rows)} within 0.3 s")
    print(f"models of 1,000 ops or more: {len(big)}" + ''.join(f"\n  {n:<28} {o:>5} ops  {t:6.2f} s" for n, o, t in big))


if __name__ == '__main__':
    main()
