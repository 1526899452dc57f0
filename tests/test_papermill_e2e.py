"""The papermill calibration template, run for real with papermill's command line."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / 'examples' / 'calibrate.ipynb'
PAPERMILL = Path(sys.executable).parent / 'papermill'

def papermill(out, *params, cwd=None):
    args = [str(PAPERMILL), str(TEMPLATE), str(out)]
    for k, v in zip(params[::2], params[1::2]): args += ['-p', k, v]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=cwd)

def outputs_text(nb_path):
    nb = json.loads(Path(nb_path).read_text())
    txt = []
    for c in nb['cells']:
        for o in c.get('outputs', []):
            txt += o.get('text', []) if isinstance(o.get('text'), list) else [o.get('text', '')]
            txt += [o.get('evalue', '')]
            txt += o.get('data', {}).get('text/plain', [])
    return ''.join(txt)

def test_parameters_cell_is_tagged_and_literal():
    nb = json.loads(TEMPLATE.read_text())
    params = [c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(params) == 1
    src = ''.join(params[0]['source'])
    for line in ('preset = "auto"', 'framework = None', 'precisions = None', 'operations = None', 'quick = True',
                 'power_mode = None', 'registry = None', 'skip_platform_check = False'):
        assert line in src
    assert all('#' in l for l in src.splitlines() if l.strip()), 'one comment per parameter'

def test_wrong_platform_preset_fails_and_notebook_shows_why(tmp_path):
    r = papermill(tmp_path / 'out.ipynb', 'preset', 'jetson-orin-nano', 'registry', str(tmp_path / 'reg'))
    assert r.returncode != 0
    text = outputs_text(tmp_path / 'out.ipynb')
    assert 'ERROR: Platform Mismatch!' in text and 'This will produce incorrect calibration data!' in text
    assert not (tmp_path / 'reg').exists(), 'nothing is written to the registry'

def test_auto_preset_writes_profile_and_executed_notebook(tmp_path):
    reg = tmp_path / 'reg'
    r = papermill('out.ipynb', 'preset', 'auto', 'framework', 'pytorch', 'operations', 'stream,blas3',
                  'precisions', 'fp32,int8', 'registry', str(reg), cwd=tmp_path)     # a relative output path, as users type it
    assert r.returncode == 0, r.stderr[-3000:]
    profiles = list(reg.glob('cpu/*/calibrations/*.json'))
    assert len(profiles) == 1
    nb = profiles[0].with_suffix('.ipynb')
    assert nb.exists(), 'the executed notebook sits beside its profile'
    copied = json.loads(nb.read_text())
    assert any('image/png' in o.get('data', {}) for c in copied['cells'] for o in c.get('outputs', [])), 'plots are in it'
    assert 'EXECUTION DEVICE' in outputs_text(nb)
    assert (profiles[0].parent.parent / 'spec.json').exists()
    assert f'  profile   {profiles[0]}' in r.stderr and f'  notebook  {nb}' in r.stderr, r.stderr[-2000:]   # in the terminal
    assert '  peaks     fp32 ' in r.stderr and '  DRAM      ' in r.stderr
    from calibkit.schema import HardwareCalibration
    cal = HardwareCalibration.load(profiles[0])
    assert cal.metadata.framework == 'pytorch' and cal.precision_matrix.supported_precisions == ['fp32', 'int8']

def test_parameters_tag_survives_nbdev_clean(tmp_path):
    nb = json.loads(TEMPLATE.read_text())
    for c in nb['cells']: c.setdefault('metadata', {}).update({'collapsed': True, 'scrolled': False})   # noise nbdev-clean strips
    dirty = tmp_path / 'calibrate.ipynb'
    dirty.write_text(json.dumps(nb))
    r = subprocess.run([str(Path(sys.executable).parent / 'nbdev-clean'), '--fname', str(dirty)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    cleaned = json.loads(dirty.read_text())
    assert [c['metadata'] for c in cleaned['cells'] if c['cell_type'] == 'code'][0] == {'tags': ['parameters']}
    assert all('collapsed' not in c['metadata'] for c in cleaned['cells'])

def test_coverage_template_runs_on_a_registry_device(tmp_path):
    tpl = ROOT / 'examples' / 'coverage.ipynb'
    out = tmp_path / 'cov.ipynb'
    r = subprocess.run([str(PAPERMILL), str(tpl), str(out), '-p', 'model', 'vit_b_16', '-p', 'framework', 'pytorch'],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    text = outputs_text(out)
    assert 'Calibration Coverage Analysis: vit_b_16' in text and 'LayerNorm_MultiheadAttention' in text
    r = subprocess.run([str(PAPERMILL), str(tpl), str(tmp_path / 'bad.ipynb'), '-p', 'model', 'vit_b_17'], capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "Unknown model 'vit_b_17'" in outputs_text(tmp_path / 'bad.ipynb')

def test_estimate_template_validates_a_model(tmp_path):
    # validating measures here: against a quick profile of this host (the registry's may describe another CPU)
    from calibkit.calibrate import calibrate
    from calibkit.registry import Registry
    cal = calibrate('auto', framework='pytorch', precisions='fp32', operations='blas1,blas3', quick=True, verbose=False,
                    progress=False)
    Registry(tmp_path / 'reg').save(cal, 'this_host')
    out, tpl = tmp_path / 'est.ipynb', ROOT / 'examples' / 'estimate.ipynb'
    r = subprocess.run([str(PAPERMILL), str(tpl), str(out), '-p', 'model', 'mobilenet_v3_small', '-p', 'hardware',
                        'this_host', '-p', 'registry', str(tmp_path / 'reg')], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    text = outputs_text(out)
    assert 'Latency estimate: mobilenet_v3_small' in text and 'error attribution by op type' in text
    assert 'measured on another device' not in text
    nb = json.loads(out.read_text())
    assert any('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', [])), 'the estimated-vs-measured plot'
