"""Capture over a zoo of models users bring (issue 12): does calibkit capture each model, count its FLOPs as
`torch.utils.flop_counter.FlopCounterMode` does (within 1%), type its ops (UNKNOWN at most 1% of them), and how long
does `coverage.analyze` take?

Sources: every torchvision classification model; a seeded random sample of timm models (none skipped for being
awkward); Hugging Face transformers built from their configs (weights random); torchvision detection and
segmentation models; and each of those again as a `torch.export.ExportedProgram` and as an ONNX file (PyTorch's
default exporter, else its TorchScript one) where it exports. An ONNX file's FLOPs are compared with the same model's
PyTorch path (`extract`), the others' with FlopCounterMode; a model that does not export is counted apart, it is not
a capture failure. An ONNX file's FLOPs include those of products it computes from constants alone (timm's Swin V2
position-bias MLP): they are in the graph and PyTorch runs them every call, but a runtime folds them at load, so
calibkit does not cost them (its reports say so); the row keeps them apart as `folded`.

Each model runs in its own process with a time limit, so one that hangs or exhausts memory is a failure with its
reason, not the end of the run. Prints one table per source, then every failure.

    python perf/zoo.py                       # everything (about an hour on 2 cores)
    python perf/zoo.py --sources torchvision,hf --timm 0
    python perf/zoo.py --timm 120 --seed 12 --sources timm
    python perf/zoo.py --sources hf --forms onnx
    python perf/zoo.py --sources timm --rows timm.jsonl      # stop it any time; run again to go on
    python perf/zoo.py --rows timm.jsonl --report            # the tables of what is done
"""
import argparse, json, multiprocessing as mp, random, shutil, statistics, tempfile, time, warnings
from pathlib import Path

SOURCES = ('torchvision', 'timm', 'hf', 'detection', 'segmentation')
FORMS = {'module': '', 'exported': ' (ExportedProgram)', 'onnx': ' (ONNX)'}


def hf_models() -> dict:
    "Hugging Face architectures as their configs build them; the 7B-class defaults made 1B-class (RAM of this box)."
    import transformers as T
    text = lambda n=128: {'input_ids': ('long', (1, n)), 'attention_mask': ('ones', (1, n))}
    big = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
               num_key_value_heads=4)                                   # TinyLlama-1.1B's shape
    return {
        'bert': (lambda: T.BertModel(T.BertConfig()), text()),
        'distilbert': (lambda: T.DistilBertModel(T.DistilBertConfig()), text()),
        'roberta': (lambda: T.RobertaModel(T.RobertaConfig()), text()),
        'albert': (lambda: T.AlbertModel(T.AlbertConfig()), text()),
        'gpt2': (lambda: T.GPT2Model(T.GPT2Config()), text()),
        'llama': (lambda: T.LlamaModel(T.LlamaConfig(**big)), text()),
        'mistral': (lambda: T.MistralModel(T.MistralConfig(**big)), text()),
        't5': (lambda: T.T5Model(T.T5Config()), {**text(), 'decoder_input_ids': ('long', (1, 16))}),
        'bart': (lambda: T.BartModel(T.BartConfig()), text()),
        'vit': (lambda: T.ViTModel(T.ViTConfig()), {'pixel_values': ('randn', (1, 3, 224, 224))}),
        'whisper_encoder': (lambda: T.WhisperModel(T.WhisperConfig()).get_encoder(),
                            {'input_features': ('randn', (1, 80, 3000))}),
    }


def make_input(spec):
    import torch
    if isinstance(spec, dict): return {k: make_input(v) for k, v in spec.items()}
    kind, shape = spec
    return {'long': lambda: torch.randint(0, 1000, shape), 'ones': lambda: torch.ones(shape, dtype=torch.long),
            'randn': lambda: torch.randn(shape)}[kind]()


def build(source: str, name: str):
    "(model, example input) of `name` from `source`."
    import torch, torchvision
    if source in ('torchvision', 'segmentation', 'detection'):
        from calibkit.graph import load_model, default_input
        m = torchvision.models.get_model(name, weights=None, weights_backbone=None) \
            if source == 'detection' else load_model(name)
        x = torch.randn(1, 3, 320, 320) if source == 'detection' else default_input(name)
        if source == 'segmentation': x = torch.randn(1, 3, 520, 520)
        return m.eval(), (([x[0]],) if source == 'detection' else x)     # a detector takes a list of images
    if source == 'timm':
        import timm
        m = timm.create_model(name, pretrained=False).eval()
        size = (m.pretrained_cfg or {}).get('input_size', (3, 224, 224))
        return m, torch.randn(1, *size)
    if source == 'hf':
        f, spec = hf_models()[name]
        return f().eval(), make_input(spec)
    raise ValueError(source)


def to_onnx(m, x, path):
    "`m` written to `path` by PyTorch's default ONNX exporter, else by its TorchScript one; its example input."
    import torch
    from calibkit.graph import call_args, quiet, TensorOutputs
    args, kw = call_args(x)
    try:
        with quiet(): torch.onnx.export(TensorOutputs(m), args, path, kwargs=kw, dynamo=True, verbose=False)
    except Exception:
        with quiet(): torch.onnx.export(TensorOutputs(m), tuple(args) + tuple(kw.values()), path, dynamo=False,
                                        input_names=[f'a{i}' for i in range(len(args))] + list(kw))
    from calibkit.graph import onnx_inputs
    import torch.utils._pytree as pytree
    rest = iter(t for t in pytree.tree_leaves(args) if isinstance(t, torch.Tensor))
    return {n: kw[n] if n in kw else next(rest) for n in onnx_inputs(path)}     # unused inputs are pruned


def exported_as(form, source, m, x):
    "(the model in `form`, its example input); raises Unexported when it does not export."
    import torch
    from calibkit.graph import call_args, quiet, TensorOutputs
    try:
        if form == 'exported':
            args, kw = call_args(x)
            with quiet(): return torch.export.export(TensorOutputs(m) if source == 'hf' else m, args, kw, strict=False), x
        path = Path(tempfile.mkdtemp()) / 'model.onnx'
        try: return path, to_onnx(m, x, path)
        except Exception: shutil.rmtree(path.parent, ignore_errors=True); raise
    except Exception as e: raise Unexported(f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")


class Unexported(Exception): pass


def one(source: str, name: str, form: str, out: mp.Queue):
    "Capture `name` in `form`, count its FLOPs both ways, time `coverage.analyze`; put a result row on `out`."
    warnings.filterwarnings('ignore')
    row, target = dict(source=source + FORMS[form], model=name, captured=False), None
    try:
        import torch
        from calibkit.graph import extract, reference_flops, OT
        from calibkit.coverage import analyze
        from calibkit.registry import resolve
        torch.set_num_threads(2)
        m, x = build(source, name)
        row['ref_flops'] = reference_flops(m, x) if form != 'onnx' else extract(m, x, name).mac_flops
        target = m
        if form != 'module': target, x = exported_as(form, source, m, x)
        t0 = time.perf_counter()
        g = extract(target, x, name)
        row.update(captured=True, ops=len(g), unknown=sum(o.op_type == OT.UNKNOWN for o in g.ops),
                   unknown_kinds=sorted({o.kind for o in g.ops if o.op_type == OT.UNKNOWN})[:8],
                   flops=g.mac_flops + g.folded_mac_flops, folded=g.folded_mac_flops,
                   extract_s=time.perf_counter() - t0, uncaptured=len(g.uncaptured))
        cal = resolve(CALIBRATION)[0]
        t0 = time.perf_counter()
        analyze(g, cal)
        row['analyze_s'] = time.perf_counter() - t0 + row['extract_s']
    except Unexported as e: row.update(unexported=True, error=f"does not export: {e}"[:200])
    except BaseException as e:
        row['error'] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:200]
    finally:
        if form == 'onnx' and isinstance(target, Path): shutil.rmtree(target.parent, ignore_errors=True)  # GBs each
    out.put(row)


CALIBRATION = None


def run(source, name, form, timeout):
    q = mp.Queue()
    p = mp.Process(target=one, args=(source, name, form, q))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill(); p.join()
        return dict(source=source + FORMS[form], model=name, captured=False, error=f"timeout after {timeout} s")
    try: return q.get(timeout=5)
    except Exception: return dict(source=source + FORMS[form], model=name, captured=False,
                                  error=f"process died ({p.exitcode})")


def names(source, a) -> list:
    import torchvision
    tv = torchvision.models
    if source == 'torchvision': return tv.list_models(module=tv)
    if source == 'segmentation': return tv.list_models(module=tv.segmentation)
    if source == 'detection': return tv.list_models(module=tv.detection)
    if source == 'hf': return list(hf_models())
    if source == 'timm':
        import timm
        return sorted(random.Random(a.seed).sample(timm.list_models(), a.timm)) if a.timm else []
    return []


def flops_ok(r) -> bool:
    ref = r.get('ref_flops')
    return r['flops'] == 0 if not ref else abs(r['flops'] / ref - 1) <= 0.01


def problem(r):
    "Why `r` misses a target, or None."
    if not r['captured'] or 'error' in r: return r.get('error', 'not captured')
    ref = "the PyTorch path's" if r['source'].endswith(FORMS['onnx']) else "FlopCounterMode's"
    if not flops_ok(r): return f"FLOPs {r['flops']:.4g} against {ref} {r.get('ref_flops', 0):.4g}"
    if r['unknown'] > 0.01 * r['ops']: return f"{r['unknown']}/{r['ops']} UNKNOWN: {', '.join(r['unknown_kinds'])}"
    return None


def table(rows):
    rows, unexported = [r for r in rows if not r.get('unexported')], [r for r in rows if r.get('unexported')]
    ok = [r for r in rows if r['captured']]
    within = [r for r in ok if flops_ok(r)]
    typed = [r for r in ok if r['unknown'] <= 0.01 * max(r['ops'], 1)]
    times = [r['analyze_s'] for r in ok if 'analyze_s' in r]
    pct = lambda a, b: f"{len(a)}/{len(b)} ({100 * len(a) / len(b):.0f}%)" if b else '-'
    return dict(tried=len(rows) + len(unexported), unexported=len(unexported), captured=pct(ok, rows), flops_within_1pct=pct(within, ok), ops_typed=pct(typed, ok),
                unknown_ops=f"{sum(r['unknown'] for r in ok)}/{sum(r['ops'] for r in ok)}",
                median_analyze_s=f"{statistics.median(times):.2f}" if times else '-',
                max_analyze_s=f"{max(times):.2f}" if times else '-')


def main():
    global CALIBRATION
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sources', default=','.join(SOURCES), help=f"comma-separated among {', '.join(SOURCES)}")
    ap.add_argument('--forms', default=','.join(FORMS), help=f"comma-separated among {', '.join(FORMS)}")
    ap.add_argument('--timm', type=int, default=120, help='how many timm models to sample (0: none)')
    ap.add_argument('--seed', type=int, default=12, help='the timm sample seed')
    ap.add_argument('--timeout', type=int, default=300, help='seconds per model')
    ap.add_argument('--hardware', default='amd_epyc_2cpu', help='registry id or profile for coverage.analyze')
    ap.add_argument('--limit', type=int, default=0, help='at most this many models per source (0: all)')
    ap.add_argument('--rows', help='append every result row to this JSON-lines file; rows already there are kept '
                    'and their models not run again (a long run can stop and go on)')
    ap.add_argument('--report', action='store_true', help='only print the tables of the rows in --rows')
    a = ap.parse_args()
    CALIBRATION = a.hardware
    rows = [json.loads(l) for l in open(a.rows)] if a.rows and Path(a.rows).exists() else []
    if not a.report: rows += run_all(a, {(r['source'], r['model']) for r in rows})
    report(rows)


def run_all(a, done:set) -> list:
    "Every (source, model, form) not in `done`, each row appended to `a.rows` as it comes."
    rows, forms = [], [f for f in a.forms.split(',') if f]
    for src in [s for s in a.sources.split(',') if s]:
        todo = names(src, a)[:a.limit or None]
        print(f"{src}: {len(todo)} models", flush=True)
        for n in todo:
            got = [run(src, n, f, a.timeout) for f in forms if (src + FORMS[f], n) not in done]
            rows += got
            if a.rows:
                with open(a.rows, 'a') as f: f.writelines(json.dumps(r) + '\n' for r in got)
            print(f"  {n:<40} " + ' | '.join(f"{r['source']}: {'ok' if r['captured'] else r.get('error', '')[:50]}"
                                                 for r in got), flush=True)
    return rows


def report(rows:list):
    "The table per source, then every row that misses a target."
    import pandas as pd
    by = {}
    for r in rows: by.setdefault(r['source'], []).append(r)
    print('\n' + pd.DataFrame({s: table(rs) for s, rs in by.items()}).T.to_string())
    bad = [(r, problem(r)) for r in rows if problem(r) and not r.get('unexported')]
    if bad:
        print('\nNot captured, FLOPs off by more than 1%, or more than 1% UNKNOWN ops:')
        for r, why in bad: print(f"  {r['source']:<28} {r['model']:<40} {why}")

if __name__ == '__main__':
    main()
