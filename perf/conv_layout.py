"""What a convolution or linear layer costs when its input does not lie row-major (tokens transposed back into an image,
a channel slice, a batch of transposed tokens), against the same op on a row-major input and the copy alone, timed in
the same run. The evidence for `calibkit.graph._strided` on convolutions and linear layers (issue 13, session 25).

    .venv/bin/python perf/conv_layout.py [--threads 2]

Columns: median per-call ms (`calibkit.timing.measure`: to a 2% confidence interval or 0.5 s), with calibkit's steady
allocator (no page faults per call; without it a batch-8 depthwise conv's output faults in afresh each call and looks
5x slower). 'as laid' is the op on the non-row-major input, 'copy' that input's `.contiguous()` alone; 'as laid /
row-major' above '(row-major + copy) / row-major' means the op pays more than the copy.
"""
import argparse
import torch
from rich.console import Console
from rich.table import Table
from calibkit.timing import measure, steady_allocator

def ms(f) -> float:
    "The median per-call time of `f`, ms, as calibkit times an operator (`calibkit.timing.measure`)."
    return measure(f, budget_s=0.5).median_s * 1e3

def tokens_image(b, c, h):
    "A (b, c, h, h) view of tokens (b, h*h, c): channels-last strides."
    return torch.randn(b, h * h, c).transpose(1, 2).reshape(b, c, h, h)

def cases():
    "(label, op, row-major input, non-row-major input)."
    for b in (1, 8):
        for c, o, k, g, h in ((128, 128, 3, 128, 14), (256, 256, 3, 256, 28), (96, 96, 7, 96, 56), (64, 64, 3, 1, 28),
                              (128, 256, 1, 1, 28)):
            m = torch.nn.Conv2d(c, o, k, padding=k // 2, groups=g).eval()
            kind = 'dw' if g > 1 else 'conv'
            label = f"{kind} {k}x{k} {c}->{o} {h}² b{b}, tokens as image"
            yield label, m, torch.randn(b, c, h, h), tokens_image(b, c, h)
        m = torch.nn.Conv2d(116, 116, 3, padding=1, groups=116).eval()
        yield (f"dw 3x3 116 28² b{b}, channel slice", m, torch.randn(b, 116, 28, 28),
               torch.randn(b, 232, 28, 28)[:, 116:])
        m = torch.nn.Conv1d(768, 768, 1, groups=4).eval()
        yield (f"conv1d 768 k1 g4 L128 b{b}, transposed", m, torch.randn(b, 768, 128),
               torch.randn(b, 128, 768).transpose(1, 2))
        m = torch.nn.Linear(768, 768)
        yield f"linear 768 L128 b{b}, transposed", m, torch.randn(b, 128, 768), torch.randn(b, 768, 128).transpose(1, 2)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    steady_allocator()                              # as calibkit times: freed pages reused, not faulted in again
    t = Table(title=f"an op on an input not row-major ({a.threads} threads, PyTorch {torch.__version__})")
    for col in ('case', 'row-major ms', 'as laid ms', 'copy ms', 'as laid / row-major',
                '(row-major + copy) / row-major', 'output row-major'):
        t.add_column(col, justify='left' if col == 'case' else 'right')
    with torch.inference_mode():
        for label, m, x, xs in cases():
            r, s, c = ms(lambda: m(x)), ms(lambda: m(xs)), ms(lambda: xs.contiguous())
            t.add_row(label, f"{r:.3f}", f"{s:.3f}", f"{c:.3f}", f"{s / r:.2f}", f"{(r + c) / r:.2f}",
                      str(m(xs).is_contiguous()))
    Console(width=160).print(t)

if __name__ == '__main__': main()
