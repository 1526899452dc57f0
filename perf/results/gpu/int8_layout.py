import torch, time
def t(fn, n=20):
    for _ in range(3): fn()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(n): fn()
    e.record(); e.synchronize(); return s.elapsed_time(e) / n / 1e3
for N in (4096, 8192):
    A = torch.randint(-2, 3, (N, N), device='cuda', dtype=torch.int8)
    B = torch.randint(-2, 3, (N, N), device='cuda', dtype=torch.int8)
    Bc = B.t().contiguous().t()
    for lab, b in (('row-major B', B), ('column-major B', Bc)):
        s = t(lambda: torch._int_mm(A, b)); print(f"int8 _int_mm {N}^3 {lab}: {2*N**3/s/1e12:.0f} TOPS")
    Ah, Bh = A.half(), B.half()
    s = t(lambda: Ah @ Bh); print(f"fp16 {N}^3: {2*N**3/s/1e12:.0f} TFLOPS")
