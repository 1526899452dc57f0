"""A registry in object storage, against a real S3 server (moto's, on 127.0.0.1): the papermill template saving into a
bucket, the command line listing, comparing, estimating and syncing from other processes, eight concurrent writers,
and writers killed mid-upload. Nothing of the storage layer is mocked: every request goes over HTTP through s3fs."""
import json, os, random, signal, subprocess, sys, time, warnings
from pathlib import Path
import pytest

moto_server = pytest.importorskip('moto.server')
s3fs = pytest.importorskip('s3fs')

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WRITERS, SAVES = 8, 25

WRITER = r'''
import sys
from calibkit.registry import Registry
from calibkit.schema import (HardwareCalibration, CalibrationMetadata, OperationCalibration, PrecisionTestResult,
                             build_precision_matrix)
url, w, n, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
reg = Registry(url)
for i in range(n):
    g = 1000. * w + i                               # what identifies this save among all writers' saves
    r = PrecisionTestResult(precision='fp32', supported=True, measured_gflops=g)
    cal = HardwareCalibration(metadata=CalibrationMetadata(
        hardware_name='Fleet box', device_type='cpu', framework='numpy', calibration_date='2026-11-22T00:00:00Z',
        clock_under_load_mhz=2600., warnings=['x' * pad] if pad else []))    # every save in the same second: the same name stem
    cal.add(OperationCalibration(operation_type='gemm', params=dict(m=64, n=64, k=64), precision_results={'fp32': r}))
    cal.precision_matrix = build_precision_matrix('Fleet box', [r])
    print('saving', i, flush=True)
    reg.save(cal, 'fleet_box', spec={'preset': 'auto'})
    print('saved', i, flush=True)
'''


@pytest.fixture(scope='module')
def s3(tmp_path_factory):
    "A moto S3 server on 127.0.0.1, and the environment that points s3fs (in this and child processes) at it."
    server = moto_server.ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = dict(AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing', AWS_DEFAULT_REGION='us-east-1',
               AWS_ENDPOINT_URL=f'http://{host}:{port}', FSSPEC_S3_ENDPOINT_URL=f'http://{host}:{port}',
               CALIBKIT_CACHE=str(tmp_path_factory.mktemp('cache')))
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    fs = s3fs.S3FileSystem(endpoint_url=env['AWS_ENDPOINT_URL'])
    yield fs, {**os.environ, **env}
    for k, v in old.items():
        if v is None: os.environ.pop(k, None)
        else: os.environ[k] = v
    server.stop()


def bucket(fs, name):
    fs.mkdir(name)
    return f's3://{name}/calibkit'


def calibkit(env, *args, timeout=600):
    return subprocess.run([str(BIN / 'calibkit'), *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_papermill_into_a_bucket_then_list_compare_coverage_estimate_sync(s3, tmp_path):
    fs, env = s3
    url = bucket(fs, 'fleet')
    r = subprocess.run([str(BIN / 'papermill'), str(ROOT / 'examples' / 'calibrate.ipynb'), str(tmp_path / 'out.ipynb'),
                        '-p', 'preset', 'auto', '-p', 'framework', 'pytorch', '-p', 'operations', 'stream,blas3,operators',
                        '-p', 'precisions', 'fp32', '-p', 'registry', url],
                       capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    keys = fs.find('fleet/calibkit')
    profiles = [k for k in keys if '/calibrations/' in k and k.endswith('.json')]
    assert len(profiles) == 1 and profiles[0][:-5] + '.ipynb' in keys, keys        # the notebook beside its profile
    assert any(k.endswith('/spec.json') for k in keys) and any('/cards/' in k for k in keys)
    nb = json.loads(fs.cat(profiles[0][:-5] + '.ipynb'))
    assert any('EXECUTION DEVICE' in ''.join(o.get('text', '')) for c in nb['cells']
               for o in c.get('outputs', [])), 'the uploaded notebook is the executed one'
    assert '  profile   s3://fleet/calibkit/cpu/' in (tmp_path / 'out.ipynb').read_text()
    assert '  profile   s3://fleet/calibkit/cpu/' in r.stderr                              # and in the terminal
    hw = profiles[0].split('/')[3]

    # other processes, reading the bucket through the command line
    ls = calibkit(env, 'list', '--registry', url, '--detail')
    assert ls.returncode == 0 and hw in ls.stdout and '(+ notebook)' in ls.stdout, ls.stderr
    cmp = calibkit(env, 'compare', hw, f'{hw}::pytorch', '--registry', url)
    assert cmp.returncode == 0 and 'gemm' in cmp.stdout.lower(), cmp.stderr
    cov = calibkit(env, 'coverage', 'resnet18', '--hardware', hw, '--registry', url)
    assert cov.returncode == 0 and 'conv2d' in cov.stdout.lower(), cov.stderr[-2000:]
    est = calibkit(env, 'estimate', 'resnet18', '--hardware', hw, '--registry', url)
    assert est.returncode == 0 and 'total' in est.stdout, est.stderr[-2000:]
    with_env = calibkit({**env, 'CALIBKIT_REGISTRY': url}, 'list')             # the registry from the environment
    assert with_env.returncode == 0 and hw in with_env.stdout

    # pull to a laptop's folder, push back: idempotent both ways
    local = tmp_path / 'laptop'
    pull = calibkit(env, 'registry', 'pull', url, str(local))
    assert pull.returncode == 0 and '1 copied' in pull.stdout, pull.stdout + pull.stderr
    assert len(list(local.glob('cpu/*/calibrations/*.ipynb'))) == 1 and list(local.glob('cpu/*/spec.json'))
    for args in (('pull', url, str(local)), ('push', str(local), url)):
        again = calibkit(env, 'registry', *args)
        assert again.returncode == 0 and '0 copied, 1 already there, 0 conflicts' in again.stdout, again.stdout
    local_est = calibkit(env, 'estimate', 'resnet18', '--hardware', hw, '--registry', str(local))
    assert local_est.returncode == 0
    assert est.stdout.split('total')[1].split('\n')[0] == local_est.stdout.split('total')[1].split('\n')[0]


def test_a_bucket_that_does_not_exist_stops_calibrate_before_it_measures(s3):
    fs, env = s3
    t = time.perf_counter()
    r = calibkit(env, 'calibrate', '--registry', 's3://no-such-bucket/x', '--quick', '--no-progress')
    assert r.returncode == 2 and 'Cannot save calibrations' in r.stderr and 'bucket does not exist' in r.stderr
    assert 'Traceback' not in r.stderr and time.perf_counter() - t < 60


def test_eight_concurrent_writers_lose_nothing(s3):
    fs, env = s3
    url = bucket(fs, 'concurrent')
    from calibkit.registry import Registry
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, url, str(w), str(SAVES), '0'], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(WRITERS)]
    seen_warnings, listings = [], 0
    while any(p.poll() is None for p in procs):          # a reader listing and loading while they write
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            try:
                es = Registry(url).list_calibrations()
                if es: es[-1].load()
                listings += 1
            except Exception as e:                       # an empty bucket before the first save is not a registry
                assert 'nothing is stored there' in str(e), e
        seen_warnings += [str(x.message) for x in w]
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0, err[-2000:]
    assert not seen_warnings, seen_warnings[:3]
    es = Registry(url).list_calibrations(hardware='fleet_box')
    want = {1000. * w + i for w in range(WRITERS) for i in range(SAVES)}
    assert len(es) == WRITERS * SAVES and {e.peaks['fp32'] for e in es} == want, 'none lost, none twice'
    assert len({str(e.path) for e in es}) == WRITERS * SAVES, 'all in the same second, each under its own name'
    for e in random.Random(0).sample(es, 20):                  # loading checks each digest: nothing partial
        assert e.load().precision_matrix.peak_gflops_by_precision['fp32'] == e.peaks['fp32']
    assert listings > 0


def test_writers_killed_mid_upload_leave_no_partial_profile(s3):
    fs, env = s3
    url = bucket(fs, 'killed')
    from calibkit.registry import Registry
    rng, kills = random.Random(1), 0
    for k in range(6):                                   # 16 MB profiles: the kill lands in serialising or uploading
        p = subprocess.Popen([sys.executable, '-c', WRITER, url, str(100 + k), '50', str(16 * 2**20)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().startswith('saving')
        time.sleep(rng.uniform(0.05, 1.5))
        p.send_signal(signal.SIGKILL); p.wait(); kills += 1
    # a multipart upload begun and never completed (what a client killed during a large upload leaves)
    mpu = fs.call_s3('create_multipart_upload', Bucket='killed', Key='calibkit/cpu/fleet_box/calibrations/half.json')
    fs.call_s3('upload_part', Bucket='killed', Key='calibkit/cpu/fleet_box/calibrations/half.json', PartNumber=1,
               UploadId=mpu['UploadId'], Body=b'{"metadata": ' + b' ' * (5 * 2**20))
    assert not fs.exists('killed/calibkit/cpu/fleet_box/calibrations/half.json')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        try: es = Registry(url).list_calibrations()
        except Exception as e: es = []; assert 'nothing is stored there' in str(e)
    assert not [str(x.message) for x in w], 'no partial object is ever listed'
    for e in es: e.load()                                # every visible profile is whole (its digest checks)
    profiles = [k for k in fs.find('killed/calibkit') if '/calibrations/' in k and k.endswith('.json')]
    assert len(profiles) == len(es) and kills == 6
