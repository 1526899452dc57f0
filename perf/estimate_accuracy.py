"""How well calibkit's latency estimates hold on models nobody tuned for, on this host (issue 13's evaluation).

    .venv/bin/python perf/estimate_accuracy.py [--quick] [--side design|report] [--models a,b] [--configs fp32-b1,...]
                                               [--rows FILE.jsonl]

1. Calibrates this machine in the same run (PyTorch, fp32 and bf16: STREAM, BLAS2, BLAS3, the operator grid; the full
   sweep unless --quick), and times that calibration. It runs in a process of its own, as `calibkit calibrate` does,
   not in this one, whose heap holds every model below (see 3).
2. Builds every model below without weights and, for each configuration (fp32 batch 1, bf16 batch 1, fp32 batch 8,
   and for the CNNs fp32 batch 1 at a second input resolution, 160²), captures its graph and estimates its latency
   from that profile alone: no per-model fitting, nothing read from a measurement of the model.
3. Measures every (model, configuration) in PyTorch eager under no_grad, in two bursts taken turn about over the
   whole run (a neighbour's minute on this shared host should not decide a model's figure); median of the pooled
   samples. Each case is measured in a process of its own, as a deployed model runs: forked from a server that has
   imported the libraries and nothing else, it sets the steady allocator, builds the model and times it. A model's
   latency depends on what ran before it in its process: after a larger model has grown the heap, an output of
   32 MiB or more is served from it instead of being mapped and faulted in afresh on every call (MobileNetV2 at
   batch 8: 52 instead of 86 ms); after many tensors of assorted sizes were kept and others freed around them, small
   models run slower (MobileNetV3-S at batch 1: 7.3 ms in this process, where runs up to v11 measured every case,
   against 4.5 ms alone; in a test, 1,400 holes among 570 MB kept cost it 26%, 14,000 among 5.7 GB 3.3x). The
   reference that tracks the host's speed (resnet18, fp32, batch 1) is timed the same way, before the first burst
   and after each.
4. Calibrates again, and estimates every case from that second profile: two full calibrations minutes apart should
   give estimates within 5% for 90% of the cases and within 3% at the median.
5. Prints, per case, the error and whether the estimate's stated interval held the measurement; then per side
   (design, report) and configuration: median |error|, share within ±10% and ±20%, share of intervals that held,
   failures; the calibration-to-calibration drift; and the machine's own drift (a reference model and a GEMM timed
   at the start and at the end). Errors are against the first calibration's estimates; 'bracketed' also shows them
   against the geometric mean of both calibrations' (made just before and just after the measurements: what is left
   when the machine's drift during the run is taken out), and 'at the host's speed' against the first calibration's
   estimates scaled by how fast the host ran the calibration's own resnet18 reference (timed alone, as the cases are)
   just before and after each burst, against the calibration's figure for it (what `validate` reports with its
   `HostProbe`): what is left when the host's speed during the measurements is taken out. Both are diagnostics;
   the targets are judged on the plain error. Last, the host's noise floor: the cases the calibration also timed
   whole as reference models (resnet18, mobilenet_v2, ... at their batch and size), the bench's figure over the
   calibration's: one model measured twice in the same run.

**The family split** (written down in session 6 before any rule was tuned to it; the design side holds every family
earlier sessions designed the estimator on). A family is an architecture, whatever its source or size. Rules may be
tuned to DESIGN families only; REPORT families are measured and reported, never looked at case by case to change a
rule. A report family that someone studies to tune a rule moves to DESIGN, and the note says so.

Targets (issue 13), on the REPORT side: fp32 batch 1 median |error| <= 10%, >= 80% within ±20%, no failure; bf16
batch 1 and fp32 batch 8 median |error| <= 10%; the 80% interval holds 70-90% of the cases; calibration drift as above.
Not a test: nothing asserts; it prints what it measured.
"""
import argparse, copy, dataclasses, json, math, statistics, time, traceback, warnings
from pathlib import Path
import torch
from rich.console import Console
from rich.table import Table

# (source, name, family, kind): kind 'cnn' (also estimated at a second resolution), 'vision' (fixed input size),
# 'text' (128 tokens), 'audio'
DESIGN = [
    ('torchvision', 'resnet18', 'resnet', 'cnn'), ('torchvision', 'resnet50', 'resnet', 'cnn'),
    ('torchvision', 'mobilenet_v2', 'mobilenet', 'cnn'), ('torchvision', 'mobilenet_v3_small', 'mobilenet', 'cnn'),
    ('torchvision', 'mobilenet_v3_large', 'mobilenet', 'cnn'), ('torchvision', 'efficientnet_b0', 'efficientnet', 'cnn'),
    ('torchvision', 'vit_b_16', 'vit', 'vision'), ('torchvision', 'squeezenet1_1', 'squeezenet', 'cnn'),
    ('torchvision', 'shufflenet_v2_x1_0', 'shufflenet', 'cnn'), ('torchvision', 'mnasnet1_0', 'mnasnet', 'cnn'),
    ('torchvision', 'regnet_y_400mf', 'regnet', 'cnn'), ('torchvision', 'densenet121', 'densenet', 'cnn'),
    ('torchvision', 'googlenet', 'googlenet', 'cnn'), ('torchvision', 'alexnet', 'alexnet', 'cnn'),
    ('torchvision', 'convnext_tiny', 'convnext', 'cnn'),
    ('hf', 'bert_small', 'bert', 'text'), ('hf', 'distilgpt2', 'gpt2', 'text'),
    # added in session 17, families on neither side before (chosen before any was measured; tiny_vit, selecsls,
    # gernet and mobilenetv4 then studied op by op): where the estimator is tried on shapes it was not built on
    ('timm', 'efficientvit_b0', 'efficientvit', 'vision'), ('timm', 'efficientvit_m0', 'efficientvit_msra', 'vision'),
    ('timm', 'tiny_vit_5m_224', 'tinyvit', 'vision'), ('timm', 'shvit_s1', 'shvit', 'vision'),
    ('timm', 'hgnetv2_b0', 'hgnet', 'cnn'), ('timm', 'starnet_s1', 'starnet', 'cnn'),
    ('timm', 'fasternet_t0', 'fasternet', 'cnn'), ('timm', 'gernet_s', 'gernet', 'cnn'),
    ('timm', 'selecsls42b', 'selecsls', 'cnn'), ('timm', 'mobilenetv4_conv_small', 'mobilenet', 'cnn'),
    ('timm', 'resnet10t', 'resnet', 'cnn'), ('timm', 'regnetz_b16', 'regnet', 'cnn'),
    # moved from REPORT in session 19, before they were studied op by op: the four report families furthest under on
    # the first calm host (v28), where the estimator missed something generic (a 3x3 average pool, strided operands,
    # 7x7 depthwise downsampling); four new report families (below) took their place, chosen before any was measured
    ('timm', 'efficientformer_l1', 'efficientformer', 'vision'), ('timm', 'poolformer_s12', 'poolformer', 'cnn'),
    ('timm', 'xcit_nano_12_p16_224', 'xcit', 'vision'), ('timm', 'fastvit_t8', 'fastvit', 'cnn'),
    # moved from REPORT in session 26: its fp32 batch-8 estimate in v39 (+331%) was a defect, and the rule that fixed
    # it (a convolution far from its class's entries borrows a nearer class) was designed on synthetic convolutions of
    # its layers' shape (4 groups of 192 channels), so its figures no longer count as unseen
    ('hf', 'squeezebert', 'squeezebert', 'text'),
    # added in session 28, families on neither side before, chosen before any was measured: attention within windows
    # (gcvit) and over a subsampled map (twins), the blocks of the report side's furthest misses at fp32 (swin,
    # segformer, coat: those are not studied; these two may be, op by op)
    ('timm', 'gcvit_xxtiny', 'gcvit', 'vision'), ('timm', 'twins_svt_small', 'twins', 'vision'),
]
REPORT = [
    ('torchvision', 'inception_v3', 'inception', 'vision'), ('torchvision', 'vgg11_bn', 'vgg', 'cnn'),
    ('torchvision', 'swin_t', 'swin', 'vision'), ('torchvision', 'maxvit_t', 'maxvit', 'vision'),
    ('timm', 'ghostnet_100', 'ghostnet', 'cnn'), ('timm', 'mobilevit_xs', 'mobilevit', 'vision'),
    ('timm', 'mobilevitv2_050', 'mobilevit', 'vision'), ('timm', 'skresnet18', 'sknet', 'cnn'),
    ('timm', 'levit_128s', 'levit', 'vision'), ('timm', 'fbnetc_100', 'fbnet', 'cnn'),
    ('timm', 'lcnet_100', 'lcnet', 'cnn'), ('timm', 'mixnet_s', 'mixnet', 'cnn'), ('timm', 'rexnet_100', 'rexnet', 'cnn'),
    ('timm', 'coat_lite_tiny', 'coat', 'vision'), ('timm', 'edgenext_x_small', 'edgenext', 'cnn'),
    ('timm', 'mobileone_s1', 'mobileone', 'cnn'), ('torchvision', 'resnext50_32x4d', 'resnext', 'cnn'),
    ('timm', 'repvit_m1', 'repvit', 'cnn'), ('timm', 'dla34', 'dla', 'cnn'), ('timm', 'cspresnet50', 'cspnet', 'cnn'),
    ('timm', 'hrnet_w18_small', 'hrnet', 'cnn'), ('hf', 'convbert_small', 'convbert', 'text'),
    ('timm', 'pit_ti_224', 'pit', 'vision'), ('timm', 'ese_vovnet19b_dw', 'vovnet', 'cnn'),
    ('timm', 'tinynet_b', 'tinynet', 'cnn'), ('timm', 'hardcorenas_b', 'hardcorenas', 'cnn'),
    ('hf', 'albert_base', 'albert', 'text'), ('hf', 'mobilebert', 'mobilebert', 'text'),
    ('hf', 't5_small_encoder', 't5', 'text'), ('hf', 'deberta_v3_xsmall', 'deberta', 'text'),
    ('hf', 'segformer_b0', 'segformer', 'vision'),
    ('hf', 'whisper_tiny_encoder', 'whisper', 'audio'),
]
CONFIGS = {'fp32-b1': ('fp32', 1, None), 'bf16-b1': ('bf16', 1, None), 'fp32-b8': ('fp32', 8, None),
           'fp32-b1-160': ('fp32', 1, 160)}
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16}
TOKENS = 128


def hf_model(name):
    "A Hugging Face model as its published config builds it (random weights)."
    import transformers as T
    return {
        'bert_small': lambda: T.BertModel(T.BertConfig(hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                                                      intermediate_size=2048)),        # google/bert_uncased_L-4_H-512
        'distilgpt2': lambda: T.GPT2Model(T.GPT2Config(n_layer=6)),
        'albert_base': lambda: T.AlbertModel(T.AlbertConfig(hidden_size=768, num_attention_heads=12,
                                                            intermediate_size=3072)),
        'mobilebert': lambda: T.MobileBertModel(T.MobileBertConfig()),                 # google/mobilebert-uncased
        't5_small_encoder': lambda: T.T5EncoderModel(T.T5Config()),                    # t5-small
        'deberta_v3_xsmall': lambda: T.DebertaV2Model(T.DebertaV2Config(
            hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
            relative_attention=True, pos_att_type=['p2c', 'c2p'], max_relative_positions=-1, position_buckets=256,
            norm_rel_ebd='layer_norm', share_att_key=True, position_biased_input=False, vocab_size=128100)),
        'squeezebert': lambda: T.SqueezeBertModel(T.SqueezeBertConfig()),               # squeezebert-uncased
        'convbert_small': lambda: T.ConvBertModel(T.ConvBertConfig(                     # YituTech/conv-bert-small
            hidden_size=256, num_attention_heads=4, intermediate_size=1024, embedding_size=128)),
        'segformer_b0': lambda: T.SegformerModel(T.SegformerConfig()),                 # nvidia/mit-b0
        'whisper_tiny_encoder': lambda: T.WhisperModel(T.WhisperConfig(
            d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6, decoder_attention_heads=6,
            encoder_ffn_dim=1536, decoder_ffn_dim=1536)).get_encoder(),
    }[name]()


def build(source, name):
    "The model in eval mode, without weights."
    if source == 'torchvision':
        from calibkit.graph import load_model
        return load_model(name)
    if source == 'timm':
        import timm
        return timm.create_model(name, pretrained=False).eval()
    return hf_model(name).eval()


def native_size(source, name, m):
    if source == 'timm': return ((m.pretrained_cfg or {}).get('input_size') or (3, 224, 224))[1]
    return 299 if name == 'inception_v3' else 224


def make_input(source, name, kind, m, batch, size, dtype):
    "The example input of a case: images, token ids with their mask, or log-mel features."
    if kind == 'text':
        return {'input_ids': torch.randint(0, 1000, (batch, TOKENS)),
                'attention_mask': torch.ones(batch, TOKENS, dtype=torch.long)}
    if kind == 'audio': return {'input_features': torch.randn(batch, 80, 3000, dtype=dtype)}
    s = size or native_size(source, name, m)
    x = torch.randn(batch, 3, s, s, dtype=dtype)
    return {'pixel_values': x} if source == 'hf' else x


def run(m, x):
    return m(**x) if isinstance(x, dict) else m(x)


@dataclasses.dataclass
class Case:
    side: str
    source: str
    name: str
    family: str
    config: str
    model: object = None
    x: object = None
    graph: object = None
    error: str = ''
    timings: list = dataclasses.field(default_factory=list)
    host: list = dataclasses.field(default_factory=list)      # per burst: the reference's ms around it (geometric mean)


def cases_of(models, configs, side):
    "Every (model, configuration) case, built and captured; a case that cannot be is kept with its error."
    from calibkit.graph import extract
    out = []
    for source, name, family, kind in models:
        try: base = build(source, name)
        except Exception as e:
            out += [Case(side, source, name, family, c, error=f"build: {type(e).__name__}: {e}"[:160]) for c in configs]
            continue
        for c in configs:
            prec, batch, size = CONFIGS[c]
            if size and kind != 'cnn': continue
            case = Case(side, source, name, family, c)
            try:
                case.model = base if prec == 'fp32' else copy.deepcopy(base).to(DTYPES[prec])
                case.x = make_input(source, name, kind, base, batch, size, DTYPES[prec])
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    case.graph = extract(case.model, case.x, f"{name} {c}")
            except Exception as e: case.error = f"capture: {type(e).__name__}: {str(e).strip()[:140]}"
            out.append(case)
    return out


def timed_alone(side, source, name, family, config, budget_s, warmup):
    """One burst of a case in this process, fresh from the fork server: steady allocator, the model built from scratch
    (as `cases_of` builds it), timed. The `TimingResult` as a dict."""
    from calibkit.timing import steady_allocator, measure
    steady_allocator()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        kind = next(k for s, n, f, k in DESIGN + REPORT if n == name)
        prec, batch, size = CONFIGS[config]
        m = build(source, name)
        if prec != 'fp32': m = m.to(DTYPES[prec])
        x = make_input(source, name, kind, m, batch, size, DTYPES[prec])
        with torch.no_grad():
            return measure(lambda: run(m, x), warmup=warmup, min_reps=3, max_reps=100, budget_s=budget_s,
                           min_time_s=budget_s / 3).model_dump()


def fork_server():
    "An executor whose every task runs in a new process forked from a server that imported the libraries only."
    from calibkit.bench.operators import fresh_processes
    return fresh_processes(('__main__', 'torch', 'torchvision', 'timm', 'transformers', 'calibkit.timing',
                            'calibkit.graph', 'calibkit.bench.operators'), main=True)   # (the tasks are defined here)


class Fresh:
    "Runs each call in a fresh process (`fork_server`); a process that dies (out of memory) fails its call only."
    def __init__(self): self.ex = fork_server()
    def __call__(self, fn, *args):
        from concurrent.futures.process import BrokenProcessPool
        try: return self.ex.submit(fn, *args).result()
        except BrokenProcessPool:
            self.ex = fork_server()
            raise
    def shutdown(self): self.ex.shutdown()


PROBE = ('design', 'torchvision', 'resnet18', 'resnet', 'fp32-b1')     # the host's speed: the calibration's reference


def alone(pool, *case, budget_s=0.6, warmup=2):
    "One burst of a case (side, source, name, family, config) in a process of its own: its `TimingResult`."
    from calibkit.timing import TimingResult
    return TimingResult(**pool(timed_alone, *case, budget_s, warmup))


def settle(pool, con, what, tol=0.03, least=3, tries=10):
    """Time the host's speed (`PROBE`) at least `least` times, until the last two agree within `tol` (at most `tries`):
    right after a calibration's process exits the next few seconds ran slow (v17-v19: the first probe 2-2.6x, twice in
    a row in a test, then normal), and after the bench built every case (GBs in this process) the first calibration's
    rounds were 29-32% apart against 4-7% for the second. The last timing (a `TimingResult`)."""
    t = [alone(pool, *PROBE, budget_s=1.) for _ in range(least)]
    while len(t) < tries and abs(t[-1].median_s / t[-2].median_s - 1) > tol: t.append(alone(pool, *PROBE, budget_s=1.))
    con.print(f"  settling before {what}: resnet18 fp32 b1 {' -> '.join(f'{x.median_s * 1e3:.2f}' for x in t)} ms")
    return t[-1]


def measure_all(cases, bursts, budget_s, con, pool):
    """Time every case in `bursts` turns over the whole list (the order rotating), each burst of each case in a
    process of its own; samples pooled per case. The host's speed (`PROBE`) is timed before the first burst (once it
    has settled) and after each; each case keeps, per burst, the geometric mean of the probe's times around that burst.
    The probe's ms."""
    live = [c for c in cases if not c.error]
    probe = [settle(pool, con, 'the measurements')]
    for b in range(bursts):
        k = b * len(live) // max(bursts, 1)
        t0 = time.perf_counter()
        for c in live[k:] + live[:k]:
            try: c.timings.append(alone(pool, c.side, c.source, c.name, c.family, c.config, budget_s=budget_s))
            except Exception as e: c.error = f"run: {type(e).__name__}: {str(e).strip()[:140]}"
        probe.append(alone(pool, *PROBE, budget_s=1.))
        around = (probe[-2].median_s * probe[-1].median_s) ** .5 * 1e3
        for c in live: c.host.append(around)
        con.print(f"  burst {b + 1}/{bursts}: {len(live)} cases in {time.perf_counter() - t0:.0f} s")
    return [t.median_s * 1e3 for t in probe]


def calibrated(quick):
    "A calibration of this host, made here: the profile as JSON."
    from calibkit.calibrate import calibrate, QUICK, FULL
    return calibrate('auto', framework='pytorch', precisions='fp32,bf16', operations='stream,blas2,blas3,operators',
                     quick=quick, settings=QUICK if quick else FULL, verbose=False, progress=False).model_dump_json()


def calibration(quick, pool):
    "(a calibration of this host made in a process of its own, its seconds)."
    from calibkit.schema import HardwareCalibration
    t0 = time.perf_counter()
    cal = HardwareCalibration.model_validate_json(pool(calibrated, quick))
    return cal, time.perf_counter() - t0


def estimate_of(case, cal):
    "(total ms, low ms, high ms, summary features) of the case from `cal`, or None."
    from calibkit.estimate import estimate
    e = estimate(case.graph, cal, precision=CONFIGS[case.config][0])
    lo, hi = (e.low_ms, e.high_ms) if hasattr(e, 'low_ms') else (e.total_ms - e.band_ms, e.total_ms + e.band_ms)
    ov = sum(o.ms for o in e.ops if o.bound == 'overhead')
    from calibkit.estimate import match_uncertainty
    return e.total_ms, lo, hi, dict(ops=len(e.ops), overhead_share=ov / e.total_ms if e.total_ms else 0.,
                                    match_uncertainty=match_uncertainty(e.ops),
                                    approximated=e.match_shares()['approximated_time'], fresh_pages=e.fresh_pages)


def machine_reference():
    "(resnet18 fp32 batch 1 median ms, fp32 matmul 1024² median GFLOPS): the machine's own state (in a fresh process)."
    from calibkit.timing import steady_allocator
    steady_allocator()
    from calibkit.graph import load_model
    from calibkit.timing import measure
    m, x = load_model('resnet18'), torch.randn(1, 3, 224, 224)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    with torch.no_grad(): r = measure(lambda: m(x), warmup=2, min_reps=10, budget_s=2., min_time_s=1.)
    g = measure(lambda: a @ b, warmup=2, min_reps=10, budget_s=2., min_time_s=1.)
    return r.median_s * 1e3, 2 * 1024**3 / g.median_s / 1e9


def resnet18_ref(cal):
    "The calibration's resnet18 fp32 batch 1 224² reference entry (None if it has none)."
    return next((o for o in cal.operations('reference_model') if o.params['model'] == 'resnet18' and
                 (o.params['batch'], o.params['size']) == (1, 224)), None)


def host_ratio(case, cal):
    "How much slower than in `cal` the host ran its resnet18 reference around the case's bursts (None if not timed)."
    ref = resnet18_ref(cal)
    if not case.host or ref is None: return None
    return math.exp(statistics.fmean(map(math.log, case.host))) / ref.precision_results['fp32'].median_latency_ms


def same_model_twice(rows, cal):
    """(case, bench over calibration) for each case the calibration also timed whole as a reference model (same
    model, batch, input size and precision): one model measured twice in the same run, by the bench and by the
    calibration minutes apart. Their scatter is the host's noise floor under any estimate."""
    refs = {(o.params['model'], int(o.params['batch']), int(o.params['size']), p): r.median_latency_ms
            for o in cal.operations('reference_model') for p, r in o.precision_results.items()
            if r.supported and r.median_latency_ms}
    out = []
    for r in rows:
        prec, batch, size = CONFIGS[r['config']]
        ms = refs.get((r['model'], batch, size or 224, prec))
        if ms and r.get('measured_ms'): out.append((f"{r['model']} {r['config']}", r['measured_ms'] / ms))
    return out


def print_noise_floor(rows, cal, con):
    "The same model measured by the bench and by the calibration (`same_model_twice`), summarised."
    pairs = same_model_twice(rows, cal)
    if not pairs: return
    d = sorted(abs(x - 1) for _, x in pairs)
    lo, hi = min(pairs, key=lambda p: p[1]), max(pairs, key=lambda p: p[1])
    con.print(f"one model measured twice (the {len(pairs)} cases the first calibration also timed as reference models):"
              f" bench over calibration median {statistics.median(x for _, x in pairs):.2f}, apart by a median "
              f"{statistics.median(d):.1%}, within 5% for {sum(x <= .05 for x in d) / len(d):.0%}; from "
              f"{lo[1]:.2f} ({lo[0]}) to {hi[1]:.2f} ({hi[0]}): an estimate that matched the calibration's own figure "
              "for them exactly would still miss the bench's by that much.")


def summarise(rows, con):
    med = statistics.median
    t = Table(title="Per side and configuration (estimates from the calibration made before the measurements)")
    for c in ('side', 'config', 'cases', 'failed', 'median |err|', 'within ±10%', 'within ±20%', 'interval held',
              'worst', 'median |err| bracketed', "median |err| at the host's speed"):
        t.add_column(c)
    for side in ('report', 'design'):
        for cfg in CONFIGS:
            rs = [r for r in rows if r['side'] == side and r['config'] == cfg]
            if not rs: continue
            ok = [r for r in rs if r.get('err') is not None]
            e = [abs(r['err']) for r in ok]
            worst = max(ok, key=lambda r: abs(r['err'])) if ok else None
            t.add_row(side, cfg, str(len(rs)), str(len(rs) - len(ok)), f"{med(e):.1%}" if e else '-',
                      f"{sum(x <= .1 for x in e) / len(e):.0%}" if e else '-',
                      f"{sum(x <= .2 for x in e) / len(e):.0%}" if e else '-',
                      f"{sum(r['held'] for r in ok) / len(ok):.0%}" if ok else '-',
                      f"{worst['model']} {worst['err']:+.0%}" if worst else '-',
                      f"{med([abs(r['err_bracketed']) for r in ok]):.1%}" if ok and 'err_bracketed' in ok[0] else '-',
                      f"{med(h):.1%}" if (h := [abs(r['err_host']) for r in ok if r.get('err_host') is not None])
                      else '-')
    con.print(t)
    d = [abs(r['drift']) for r in rows if r.get('drift') is not None]
    if d:
        con.print(f"calibration to calibration (two full calibrations, minutes apart): estimates within 5% for "
                  f"{sum(x <= .05 for x in d) / len(d):.0%} of {len(d)} cases (target >= 90%), median {med(d):.1%} "
                  f"(target <= 3%), max {max(d):.1%}")
        lg = [math.log1p(r['drift']) for r in rows if r.get('drift') is not None]
        common = med(lg)
        rest = [abs(math.expm1(x - common)) for x in lg]
        con.print(f"  of which common to every case (the host as a whole faster or slower for the second calibration):"
                  f" {math.expm1(common):+.1%}; around it, the calibration's own scatter: "
                  f"within 5% for {sum(x <= .05 for x in rest) / len(rest):.0%}, median {med(rest):.1%}, max "
                  f"{max(rest):.1%}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true', help='quick calibrations (faster, coarser)')
    ap.add_argument('--side', choices=('design', 'report'), help='only one side of the split')
    ap.add_argument('--models', help='comma-separated model names (from either side)')
    ap.add_argument('--configs', default=','.join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument('--bursts', type=int, default=2)
    ap.add_argument('--budget', type=float, default=0.6, help='seconds of measuring per case and burst')
    ap.add_argument('--no-second', action='store_true', help='skip the second calibration (no drift figure)')
    ap.add_argument('--rows', help='write one JSON line per case to this file')
    ap.add_argument('--profiles', help='write the two calibrations to this folder (first.json, second.json)')
    ap.add_argument('--from-run', nargs=2, metavar=('ROWS', 'PROFILES'),
                    help="re-estimate an earlier run's measurements (its --rows file and --profiles folder) with the "
                         "estimator as it is now: nothing is calibrated or measured again")
    a = ap.parse_args()
    from calibkit.timing import steady_allocator
    steady_allocator()
    torch.manual_seed(0)
    con = Console(width=200)
    sides = {'design': DESIGN, 'report': REPORT}
    if a.side: sides = {a.side: sides[a.side]}
    if a.models:
        keep = set(a.models.split(','))
        sides = {s: [m for m in ms if m[1] in keep] for s, ms in sides.items()}
    configs = a.configs.split(',')
    t0 = time.perf_counter()
    earlier = {}
    if a.from_run:
        from calibkit.schema import HardwareCalibration
        load = lambda f: HardwareCalibration.model_validate_json(f.read_text()) if f.exists() else None
        earlier = {(r['model'], r['config']): r for r in map(json.loads, Path(a.from_run[0]).read_text().splitlines())}
        keep = {m for m, _ in earlier}
        sides = {s: [m for m in ms if m[1] in keep] for s, ms in sides.items()}
        (cal, tcal), (cal2, tcal2) = (load(Path(a.from_run[1]) / 'first.json'), 0.), \
                                     (load(Path(a.from_run[1]) / 'second.json'), 0.)
    else:
        pool = Fresh()
        ref0 = pool(machine_reference)
    cases = [c for s, ms in sides.items() for c in cases_of(ms, configs, s)]
    con.print(f"{len(cases)} cases built and captured in {time.perf_counter() - t0:.0f} s "
              f"({sum(bool(c.error) for c in cases)} failed)")
    if not a.from_run:
        settle(pool, con, 'the first calibration')
        cal, tcal = calibration(a.quick, pool)
        con.print(f"calibration: {'quick' if a.quick else 'full'}, fp32+bf16, {tcal:.0f} s")
        probe = measure_all(cases, a.bursts, a.budget, con, pool)
        cal2, tcal2 = (None, 0.) if a.no_second else calibration(a.quick, pool)
        settle(pool, con, "the machine's closing reference")   # not the slow seconds after a calibration exits
        ref1 = pool(machine_reference)
        pool.shutdown()
    from calibkit.timing import combine
    rows = []
    for c in cases:
        r = dict(side=c.side, source=c.source, model=c.name, family=c.family, config=c.config, error=c.error)
        old = earlier.get((c.name, c.config), {})
        if not c.error and (c.timings or old.get('measured_ms')):
            try:
                meas = r['measured_ms'] = old['measured_ms'] if old else combine(c.timings).median_s * 1e3
                r['faults_per_call'] = old.get('faults_per_call') if old else combine(c.timings).faults_per_call
                r['burst_ms'] = old.get('burst_ms') if old else [t.median_s * 1e3 for t in c.timings]
                est, lo, hi, feat = estimate_of(c, cal)                # a failure here keeps the measurement
                r.update(estimate_ms=est, low_ms=lo, high_ms=hi, err=est / meas - 1,
                         held=bool(lo <= meas <= hi), **feat)
                ratio = old.get('host_ratio') if old else host_ratio(c, cal)
                if ratio: r.update(host_ratio=ratio, err_host=est * ratio / meas - 1)
                if cal2 is not None:
                    r['drift'] = estimate_of(c, cal2)[0] / est - 1
                    r['err_bracketed'] = (est * est * (1 + r['drift'])) ** .5 / meas - 1
            except Exception as e:
                r['error'] = f"estimate: {type(e).__name__}: {str(e).strip()[:140]}"
                traceback.print_exc()
        rows.append(r)
    t = Table(title=f"Estimate vs measured on {cal.metadata.hardware_name}, PyTorch eager, {torch.get_num_threads()} "
                    f"threads; calibration in the same run ({tcal:.0f} s)")
    for col in ('side', 'family', 'model', 'config', 'measured ms', 'estimate ms', '80% interval ms', 'error',
                'held', 'drift', 'faults/call (fresh pages est.)', 'note'):
        t.add_column(col)
    for r in sorted(rows, key=lambda r: (r['side'] != 'report', r['family'], r['model'], r['config'])):
        ok = r.get('err') is not None
        t.add_row(r['side'], r['family'], r['model'], r['config'], f"{r['measured_ms']:.2f}" if ok else '-',
                  f"{r['estimate_ms']:.2f}" if ok else '-', f"{r['low_ms']:.2f} - {r['high_ms']:.2f}" if ok else '-',
                  f"{r['err']:+.1%}" if ok else 'FAILED', ('yes' if r['held'] else 'no') if ok else '-',
                  f"{r['drift']:+.1%}" if r.get('drift') is not None else '-',
                  f"{r['faults_per_call']:.0f} ({r['fresh_pages']})" if ok and r.get('faults_per_call') is not None
                  else '-', r['error'][:60])
    con.print(t)
    summarise(rows, con)
    print_noise_floor(rows, cal, con)
    if a.from_run: con.print(f"(re-estimated from {a.from_run[0]}: the measurements and calibrations of that run)")
    else: con.print(f"the machine's own drift over the run ({(time.perf_counter() - t0) / 60:.0f} min): resnet18 fp32 b1 "
              f"{ref0[0]:.2f} -> {ref1[0]:.2f} ms ({ref1[0] / ref0[0] - 1:+.1%}); fp32 matmul 1024² {ref0[1]:.0f} -> "
              f"{ref1[1]:.0f} GFLOPS ({ref1[1] / ref0[1] - 1:+.1%}); second calibration {tcal2:.0f} s")
    if not a.from_run:
        ms = ' -> '.join(f"{t:.2f}" for t in probe)
        cals = '; '.join(f"{n} calibration {r.precision_results['fp32'].median_latency_ms:.2f} ms"
                         for n, c in (('first', cal), ('second', cal2)) if c is not None and (r := resnet18_ref(c)))
        con.print(f"the host during the measurements: its resnet18 fp32 b1 reference ran {ms} ms (before the first "
                  f"burst, after each); {cals}")
    from calibkit.bench.operators import round_spread
    spreads = [f"{n} {p} {sp[0]:.0%}" for n, c in (('first', cal), ('second', cal2)) if c is not None
               for p in ('fp32', 'bf16') if (sp := round_spread(list(c.operation_profiles.values()), p))]
    if spreads: con.print("the host within each calibration (a reference model's rounds, slowest over fastest, "
                          "median over the models): " + '; '.join(spreads))
    if a.rows: Path(a.rows).write_text(''.join(json.dumps(r) + '\n' for r in rows))
    if a.profiles:
        Path(a.profiles).mkdir(parents=True, exist_ok=True)
        for n, c in (('first', cal), ('second', cal2)):
            if c is not None: (Path(a.profiles) / f"{n}.json").write_text(c.model_dump_json())


if __name__ == '__main__': main()
