"""Times coverage analysis of resnet50 and vit_b_16 (model already built, torch already imported) against
torch.utils.flop_counter.FlopCounterMode on the same models, and prints a table.

    .venv/bin/python perf/coverage_speed.py [--hardware ID] [--reps 5]

Target: <= 1 s per model on the 2-core development machine (seed 004's NFR: < 5 s). Best and median of --reps runs.
"""
import argparse, statistics, time
import torch
from rich.console import Console
from rich.table import Table
from calibkit.coverage import analyze
from calibkit.graph import load_model, default_input, reference_flops
from calibkit.registry import Registry

def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts), statistics.median(ts)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--hardware', help='registry hardware id (default: the first CPU device with a PyTorch calibration)')
    ap.add_argument('--reps', type=int, default=5)
    a = ap.parse_args()
    reg = Registry()
    hw = a.hardware or next(h for k, h in reg.devices() if k == 'cpu')
    cal = reg.load(hw, framework='pytorch')
    t = Table(title=f"coverage analysis speed ({torch.get_num_threads()} threads), calibration {hw}")
    for c in ('model', 'ops', 'analyze best (s)', 'analyze median (s)', 'FlopCounterMode best (s)', 'ratio', 'target <= 1 s'): t.add_column(c)
    for name in ('resnet50', 'vit_b_16'):
        m, x = load_model(name), default_input(name)
        analyze(m, cal, example_input=x)                      # warm-up (first trace imports and compiles lazily)
        reference_flops(m, x)
        best, med = timed(lambda: analyze(m, cal, example_input=x), a.reps)
        fbest, _ = timed(lambda: reference_flops(m, x), a.reps)
        n = len(analyze(m, cal, example_input=x).ops)
        t.add_row(name, str(n), f"{best:.3f}", f"{med:.3f}", f"{fbest:.3f}", f"{best/fbest:.2f}", '✓' if med <= 1 else '✗')
    Console(width=160).print(t)

if __name__ == '__main__': main()
