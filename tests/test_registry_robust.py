"""The registry and CLI against bad files, interruptions, concurrency and hostile content (issue 14).

Real processes, real signals, a real file system: a fuzzed loader, calibrations killed with SIGKILL, SIGINT and
SIGTERM at several points, concurrent writers and migrations with a reader listing all along.
"""
import json, os, signal, subprocess, sys, tempfile, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from calibkit.registry import Registry
from calibkit.schema import CalibrationMetadata, HardwareCalibration, ProfileError

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CALIBKIT = str(BIN / 'calibkit')
PROFILE = sorted((ROOT / 'hardware_registry' / 'cpu').glob('*/calibrations/*pytorch*.json'))[-1]


def cal(name='Box', when='2026-11-21T10:00:00Z', **kw):
    return HardwareCalibration(metadata=CalibrationMetadata(hardware_name=name, calibration_date=when, **kw))


def run(*args, env=None, timeout=300):
    return subprocess.run([CALIBKIT, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def profiles_ok(root: Path) -> list[Path]:
    "Every *.json under `root` is a complete, loadable profile (no empty or partial one); returns them."
    found = sorted(root.rglob('calibrations/*.json'))
    for f in found:
        assert f.stat().st_size > 0, f"empty profile {f}"
        HardwareCalibration.load(f)
    return found


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob('.*') if p.is_file())


# ---------------------------------------------------------------------------------------------------------------
# The loader, fuzzed: whatever the bytes, `load` returns a profile or raises ProfileError, and a registry listing
# still shows the good profile beside the fuzzed file.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4), max_leaves=30)
GOOD = json.loads(PROFILE.read_text())
FIELDS = ['metadata', 'operation_profiles', 'precision_matrix', 'measured_bandwidth_gbps', 'bandwidth_by_level',
          'schema_version', 'theoretical_peak_gflops']
META = list(GOOD['metadata'])


def check_loads(tmp: Path, data: bytes):
    f = tmp / 'fuzz.json'
    f.write_bytes(data)
    try: HardwareCalibration.load(f)
    except ProfileError as e: assert str(e).startswith(str(f))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_fuzz_bytes(tmp_path, data): check_loads(tmp_path, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(v=json_values)
def test_fuzz_json(tmp_path, v): check_loads(tmp_path, json.dumps(v).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), meta=st.sampled_from(META), v=json_values, in_meta=st.booleans())
def test_fuzz_profile_fields(tmp_path, field, meta, v, in_meta):
    d = json.loads(json.dumps(GOOD))
    if in_meta: d['metadata'][meta] = v
    else: d[field] = v
    check_loads(tmp_path, json.dumps(d).encode())


def test_fuzzed_file_never_hides_a_good_one(tmp_path):
    reg = Registry(tmp_path)
    reg.save(cal(), 'box')
    folder = tmp_path / 'cpu' / 'box' / 'calibrations'
    for i, bad in enumerate([b'', b'{', b'[' * 100_000, b'{"metadata": 1e999}', b'\x00' * 10, b'"x"']):
        (folder / f'bad{i}.json').write_bytes(bad)
    r = run('list', '--registry', tmp_path)
    assert r.returncode == 0 and 'box (Box)' in r.stdout and 'Traceback' not in r.stderr
    assert r.stderr.count('skipped') == 6


# ---------------------------------------------------------------------------------------------------------------
# The commands, with bad files beside good ones, and hostile content.

@pytest.fixture(scope='module')
def messy(tmp_path_factory):
    "A registry with the real profile of this repository, four fake ones, and one of each kind of bad file."
    root = tmp_path_factory.mktemp('messy')
    reg = Registry(root)
    dev = root / 'cpu' / 'amd_epyc_2cpu' / 'calibrations'
    dev.mkdir(parents=True)
    (dev / PROFILE.name).write_bytes(PROFILE.read_bytes())
    for d in (18, 19, 20, 21): reg.save(cal('Box', f'2026-11-{d}T10:00:00Z'), 'box')
    reg.save(cal('Evil \x1b[2J\x1b]0;pwned\x07 \u202eBox'), 'evil')
    for folder in (dev, root / 'cpu' / 'box' / 'calibrations'):
        (folder / 'year1.json').write_text('{"metadata": {"hardware_name": "x", "calibration_date": '
                                           '"0001-01-01T00:00:00+05:00"}}')
        (folder / 'deep.json').write_text('[' * 100_000)
        (folder / 'digits.json').write_text('{"metadata": %s}' % ('9' * 5000))
        os.mkfifo(folder / 'fifo.json')
        (folder / 'urandom.json').symlink_to('/dev/urandom')
        (folder / 'zero.json').symlink_to('/dev/zero')
        with open(folder / 'huge.json', 'wb') as f: f.truncate(208 * 2**20)
    return root


def test_list_with_bad_files(messy):
    r = run('list', '--registry', messy, timeout=60)           # a FIFO or /dev/urandom once made this hang
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('  - default') == 6                   # 4 box + 1 real + 1 evil
    assert r.stderr.count('⚠ skipped') == 14 and 'Traceback' not in r.stderr


def test_hostile_names_are_escaped(messy):
    r = run('list', '--registry', messy)
    assert '\x1b' not in r.stdout and '\u202e' not in r.stdout and '\x07' not in r.stdout
    assert 'Evil \\x1b[2J\\x1b]0;pwned\\x07 \\u202eBox' in r.stdout


def test_compare_coverage_estimate_with_bad_files(messy):
    r = run('compare', 'box', 'amd_epyc_2cpu', '--registry', messy)
    assert r.returncode == 0 and 'The two calibrations have no operation' in r.stdout, r.stderr
    for cmd in ('coverage', 'estimate'):
        r = run(cmd, 'resnet18', '--hardware', 'amd_epyc_2cpu', '--registry', messy)
        assert r.returncode == 0, r.stderr
        assert 'resnet18 on amd_epyc_2cpu' in r.stdout and r.stderr.count('⚠ ignored') == 7


@pytest.mark.parametrize('argv, message', [
    (['list', '--registry', '/no/such/registry'], 'No registry at /no/such/registry: it does not exist'),
    (['list', '--hardware', '..'], "'..' cannot be a device id"),
    (['compare', '../x', 'y'], "'../x' cannot be a device id"),
    (['calibrate', '--preset', 'auto', '--framework', 'numpy', '--precisions', 'bf16'], 'numpy on cpu cannot run bf16'),
    (['calibrate', '--preset', 'auto', '--framework', 'pytorch', '--precisions', 'tf32'], 'pytorch on cpu cannot run tf32'),
    (['calibrate', '--preset', 'auto', '--output', str(PROFILE)], 'is a file, not a folder'),
])
def test_clear_errors(argv, message, tmp_path):
    before = sorted(p.name for p in PROFILE.parent.iterdir())
    r = run(*argv)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr and [l for l in r.stderr.splitlines() if l.startswith('error:')] == \
        [r.stderr.splitlines()[-1]]
    assert sorted(p.name for p in PROFILE.parent.iterdir()) == before   # nothing written


def test_commands_without_torch(tmp_path, messy):
    "list, compare, presets and platform work where torch cannot be imported."
    block = tmp_path / 'block'
    block.mkdir()
    (block / 'torch.py').write_text("raise ImportError('torch is blocked for this test')\n")
    env = {'PYTHONPATH': str(block)}
    for argv in (['list', '--registry', messy], ['compare', 'box', 'amd_epyc_2cpu', '--registry', messy],
                 ['presets'], ['platform']):
        r = run(*argv, env=env)
        assert r.returncode == 0 and 'Traceback' not in r.stderr, (argv, r.stderr)


def test_papermill_parameters_are_typed(tmp_path):
    import papermill as pm
    for params, message in [({'quick': 'no'}, "quick must be True or False, not 'no'"),
                            ({'precisions': 32}, "precisions must be names such as 'fp32,bf16'"),
                            ({'registry': 32}, 'A registry is a folder path, not 32')]:
        with pytest.raises(pm.PapermillExecutionError) as e:
            pm.execute_notebook(str(ROOT / 'examples' / 'calibrate.ipynb'), str(tmp_path / 'out.ipynb'),
                                parameters={'registry': str(tmp_path / 'reg'), **params}, progress_bar=False,
                                kernel_name='python3', cwd=str(ROOT))
        assert message in str(e.value)
        assert not (tmp_path / 'reg').exists()                   # refused before anything was measured or saved


# ---------------------------------------------------------------------------------------------------------------
# Interruptions: a calibration killed at several points leaves no empty or partial profile and no temporary file.

CAL = ['calibrate', '--preset', 'auto', '--framework', 'numpy', '--precisions', 'fp32', '--operations', 'stream,blas1',
       '--quick', '--no-progress']


@pytest.mark.parametrize('sig, after', [(signal.SIGKILL, 0.3), (signal.SIGKILL, 1.5), (signal.SIGINT, 0.2),
                                        (signal.SIGINT, 1.0), (signal.SIGTERM, 0.6), (signal.SIGINT, 8.0)])
def test_killed_calibration(tmp_path, sig, after):
    # a test run started in the background (`make test &`) ignores SIGINT, and children inherit that: restore it
    p = subprocess.Popen([CALIBKIT, *CAL, '--registry', tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    p.stdout.readline()                                          # calibkit is running (imports done)
    time.sleep(after)
    p.send_signal(sig)
    err = p.communicate(timeout=120)[1]
    saved = profiles_ok(tmp_path)
    if sig != signal.SIGKILL and after <= 1: assert not saved     # the sweep takes about 3 s after its first line
    if saved: assert len(saved) == 1                             # the signal came after the save
    elif sig != signal.SIGKILL:                                  # interrupted before the end: one line, nothing saved
        assert p.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], (p.returncode, err)
        assert 'Traceback' not in err and err.strip().endswith(('interrupted: nothing saved', 'terminated: nothing saved'))
    r = run('list', '--registry', tmp_path) if tmp_path.joinpath('cpu').exists() else None
    assert r is None or (r.returncode == 0 and '⚠' not in r.stderr)
    assert temp_files(tmp_path) == []


WRITER = """
import sys, time
from calibkit.registry import Registry
from calibkit.schema import HardwareCalibration, CalibrationMetadata
reg, n = Registry(sys.argv[1]), 0
big = {f'k{i}': list(range(200)) for i in range(300)}              # a profile of about 1 MB: saves take a while
while True:
    c = HardwareCalibration(metadata=CalibrationMetadata(hardware_name='w', calibration_date='2026-11-21T10:00:00Z'),
                            extra=big)
    reg.save(c, 'w'); n += 1
    print(n, flush=True)
"""


def test_killed_while_saving(tmp_path):
    "SIGKILL a process that does nothing but save, 12 times at random moments: never a visible partial profile."
    import random
    rng = random.Random(14)
    for _ in range(12):
        p = subprocess.Popen([sys.executable, '-c', WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()                                      # it is saving
        time.sleep(rng.uniform(0, 0.3))
        p.kill(); p.wait()
    saved = profiles_ok(tmp_path)
    assert len(saved) >= 12
    r = run('list', '--registry', tmp_path)                      # listing sweeps the dead writers' temporary files
    assert r.returncode == 0 and '⚠' not in r.stderr
    assert temp_files(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------
# Concurrency: writers and migrations in parallel, with a reader listing all the while.

READER = """
import sys, time, warnings
from calibkit.registry import Registry
reg, seen, t0 = Registry(sys.argv[1]), 0, time.time()
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    while time.time() - t0 < float(sys.argv[2]):
        try: reg.list_calibrations(); seen += 1
        except Exception as e: print('ERROR', type(e).__name__, e, flush=True)
print('lists', seen, 'warnings', len(w), *[str(x.message) for x in w[:3]], flush=True)
"""
SAVER = """
import sys
from calibkit.registry import Registry
from calibkit.schema import HardwareCalibration, CalibrationMetadata
reg = Registry(sys.argv[1])
for i in range(25):
    reg.save(HardwareCalibration(metadata=CalibrationMetadata(hardware_name='same', calibration_date='2026-11-21T10:00:00Z',
                                                              warnings=[sys.argv[2], str(i)])), 'same')
"""


def test_concurrent_saves_with_a_reader(tmp_path):
    Registry(tmp_path).save(cal('same'), 'same')
    reader = subprocess.Popen([sys.executable, '-c', READER, str(tmp_path), '8'], stdout=subprocess.PIPE, text=True)
    savers = [subprocess.Popen([sys.executable, '-c', SAVER, str(tmp_path), f'w{k}']) for k in range(4)]
    assert [s.wait(timeout=120) for s in savers] == [0] * 4
    out = reader.communicate(timeout=60)[0]
    assert 'ERROR' not in out and out.split()[2:4] == ['warnings', '0'], out
    saved = profiles_ok(tmp_path)
    assert len(saved) == 101                                     # 4 writers x 25 in the same second, plus the first
    tags = {tuple(HardwareCalibration.load(f).metadata.warnings) for f in saved}
    assert len(tags) == 101                                      # none overwrote another
    assert temp_files(tmp_path) == []


def test_concurrent_migrations(tmp_path):
    for i in range(20):
        d = tmp_path / 'cpu' / f'legacy{i}'
        d.mkdir(parents=True)
        cal(f'Legacy {i}').save(d / 'calibration.json')
    reader = subprocess.Popen([sys.executable, '-c', READER, str(tmp_path), '4'], stdout=subprocess.PIPE, text=True)
    ms = [subprocess.Popen([CALIBKIT, 'migrate', '--apply', '--registry', str(tmp_path)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [m.communicate(timeout=120) for m in ms]
    assert [m.returncode for m in ms] == [0] * 4, outs
    assert sum(o.count('moved: ') for o, _ in outs) == 20        # each legacy file moved exactly once
    out = reader.communicate(timeout=60)[0]
    assert 'ERROR' not in out and out.split()[2:4] == ['warnings', '0'], out
    for i in range(20):
        d = tmp_path / 'cpu' / f'legacy{i}'
        assert not (d / 'calibration.json').exists() and len(list((d / 'calibrations').glob('*.json'))) == 1
    assert temp_files(tmp_path) == []
    assert run('migrate', '--apply', '--registry', tmp_path).stdout.strip() == 'Nothing to migrate.'
