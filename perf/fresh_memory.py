"""What outputs of 32 MiB or more cost a model, and whether the estimator's price for them holds.

Each model runs in a fresh process of its own (as a deployed model does), in the steady allocator state, twice: first
alone (its large outputs are mapped afresh on every forward), then after a larger model has grown the process's heap
(the same outputs are then served from the heap, without faults). The difference is what the fresh memory costs;
`estimate.output_pages` x the fresh-page price `bench.operators.fresh_page_cost` measured in the same process is what
the estimate charges for it.

    .venv/bin/python perf/fresh_memory.py [--models mobilenet_v2,efficientnet_b0] [--batch 8]
"""
import argparse, json, statistics, subprocess, sys, time
from rich.console import Console
from rich.table import Table

CHILD = r'''
import json, statistics, sys, time, warnings
warnings.simplefilter('ignore')
import torch, torchvision
from calibkit.timing import steady_allocator, minor_faults
from calibkit.bench.operators import fresh_page_cost
from calibkit.estimate import output_pages
from calibkit.graph import extract
torch.set_num_threads(2); steady_allocator()
name, b = sys.argv[1], int(sys.argv[2])
m, x = getattr(torchvision.models, name)().eval(), torch.randn(b, 3, 224, 224)
def timed(reps=7):
    with torch.inference_mode():
        for _ in range(2): m(x)
        fs, ts = [], []
        for _ in range(reps):
            f0, t0 = minor_faults(), time.perf_counter(); m(x)
            ts.append(time.perf_counter() - t0); fs.append(minor_faults() - f0)
    return statistics.median(fs), statistics.median(ts) * 1e3
page_ms = fresh_page_cost()[0].precision_results['fp32'].median_latency_ms
g = extract(m, x)
pages = sum(output_pages(o) for o in g.ops)        # what a CPU profile with a fresh-page price charges for
fresh = timed()
big = [torch.ones(25 * 2**20 // 4) for _ in range(100)]; del big     # 2.5 GB of tensors under 32 MiB: the heap grows
warm = timed()
print(json.dumps(dict(pages=pages, page_us=page_ms * 1e3, fresh=fresh, warm=warm)))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default='mobilenet_v2,efficientnet_b0,mobilenet_v3_large,resnet18,densenet121')
    ap.add_argument('--batch', type=int, default=8)
    a = ap.parse_args()
    t = Table(title=f"Outputs of 32 MiB or more, batch {a.batch}: each model in a fresh process, then with a grown heap")
    for c in ('model', 'fresh pages (estimate)', 'faults/forward alone', 'ms alone', 'faults/forward grown heap',
              'ms grown heap', 'alone - grown (ms)', 'estimate charges (ms)', 'charge / difference'):
        t.add_column(c, justify='left' if c == 'model' else 'right')
    t0 = time.perf_counter()
    for name in a.models.split(','):
        out = subprocess.run([sys.executable, '-c', CHILD, name, str(a.batch)], capture_output=True, text=True)
        if out.returncode:
            t.add_row(name, *['-'] * 7, out.stderr.strip().splitlines()[-1][:40]); continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        diff, charge = r['fresh'][1] - r['warm'][1], r['pages'] * r['page_us'] / 1e3
        t.add_row(name, f"{r['pages']}", f"{r['fresh'][0]:.0f}", f"{r['fresh'][1]:.1f}", f"{r['warm'][0]:.0f}",
                  f"{r['warm'][1]:.1f}", f"{diff:+.1f}", f"{charge:.1f}",
                  f"{charge / diff:.2f}" if r['pages'] and diff > 0 else '-')
    Console(width=200).print(t)
    print(f"({time.perf_counter() - t0:.0f} s; a fresh page priced in each model's process; the host is shared and "
          "noisy: the alone and grown-heap timings are minutes apart at most)")


if __name__ == '__main__': main()
