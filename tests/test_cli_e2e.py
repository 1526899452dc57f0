"""End-to-end tests of the installed `calibkit` command (a real subprocess, the real host)."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

BIN = Path(sys.executable).parent / 'calibkit'

def calibkit(*args, **kw):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=300, **kw)

def test_platform_report():
    r = calibkit('platform', '--json')
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info['architecture'] in ('x86_64', 'aarch64') and info['cuda_checked']
    assert info['caches'], 'cache sizes are detected'

def test_wrong_platform_preset_exits_nonzero_with_seed_message():
    r = calibkit('check', '--preset', 'jetson-orin-nano')
    assert r.returncode == 1
    for s in ('ERROR: Platform Mismatch!', 'This will produce incorrect calibration data!',
              'Available presets for your platform:', '--skip-platform-check'):
        assert s in r.stderr
    assert 'Traceback' not in r.stderr

def test_unknown_preset_is_one_clear_error():
    r = calibkit('check', '--preset', 'jetson-orin-nanoo')
    assert r.returncode == 2
    assert r.stderr.startswith("error: Unknown preset 'jetson-orin-nanoo'") and 'Traceback' not in r.stderr

def test_corrupt_preset_folder_reports_file(tmp_path):
    (tmp_path / 'mine.json').write_text('{"name": "mine", "device": "gpu"}')
    r = calibkit('check', '--preset', 'mine', env={**os.environ, 'CALIBKIT_PRESETS': str(tmp_path)})
    assert r.returncode == 2 and 'mine.json: invalid preset' in r.stderr

def test_calibrate_command_writes_a_loadable_profile(tmp_path):
    r = calibkit('calibrate', '--preset', 'auto', '--framework', 'pytorch', '--precisions', 'fp32,int8', '--operations', 'blas1,blas3',
                 '--quick', '--output', str(tmp_path))                     # progress on, into a pipe: a log
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'EXECUTION DEVICE' in r.stdout and 'Matrix Multiplication Performance (by precision):' in r.stdout
    assert '\r' not in r.stdout + r.stderr, 'no redrawn progress bar in a log'
    assert 'calibrating: ' in r.stdout and ' - done' in r.stdout            # progress as plain lines
    files = list(tmp_path.glob('default_*MHz_pytorch_*.json'))
    assert len(files) == 1
    end = r.stdout.rstrip().splitlines()[-5:]                                 # the run ends with where it went and what it measured
    assert end[0].startswith('calibkit: ') and end[1] == f'  profile   {files[0]}', end
    assert end[2].startswith('  peaks     fp32 ') and 'GOPS' in end[2] and end[3].startswith('  DRAM      ')
    assert end[4].startswith('  warnings  ')
    prof = json.loads(files[0].read_text())
    assert prof['metadata']['framework'] == 'pytorch' and prof['precision_matrix']['supported_precisions'] == ['fp32', 'int8']
    from calibkit.schema import HardwareCalibration
    assert HardwareCalibration.load(files[0]).metadata.torch_version

def test_numpy_on_gpu_preset_is_refused_before_running(tmp_path):
    r = calibkit('calibrate', '--preset', 'jetson-orin-nano', '--framework', 'numpy', '--skip-platform-check', '--output', str(tmp_path))
    assert r.returncode == 2 and "framework 'numpy' cannot calibrate preset 'jetson-orin-nano'" in r.stderr
    assert 'EXECUTION DEVICE' not in r.stdout and not list(tmp_path.iterdir())

def test_closed_pipe_is_quiet():
    # `calibkit platform | head -1`: the reader goes away after one line; no BrokenPipeError traceback
    p = subprocess.Popen([str(BIN), 'platform', '--no-cuda'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                                   # gone before the command prints (it starts in about a second)
    err = p.stderr.read().decode(); p.wait(timeout=60)
    assert 'Traceback' not in err and p.returncode == 141, (p.returncode, err)
