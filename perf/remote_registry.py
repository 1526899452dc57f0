#!/usr/bin/env python
"""A remote registry against a real S3 server (moto's, on 127.0.0.1): concurrent writers, listing and loading speed,
and sync. Prints one table. Targets (issue 17): 8 concurrent writers x 25 saves give 200 profiles, 0 lost, 0 partial;
listing 500 remote profiles takes <= 3 s.

    python perf/remote_registry.py [--profiles 500] [--profile PATH] [--in-process]

The profile saved is a real calibration from hardware_registry/ (the newest full one unless --profile), each copy with
its own date, so the objects have the size real ones have. The S3 server runs in a process of its own (`python -m
moto.server`), as a real one would; `--in-process` runs it in a thread of this process instead (ThreadedMotoServer, as
the tests do), where it competes with the client for the interpreter lock.
"""
import argparse, logging, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRITER = r'''
import sys, datetime
from calibkit.registry import Registry
from calibkit.schema import HardwareCalibration
url, w, n, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base, reg = HardwareCalibration.load(src), Registry(url)
for i in range(n):
    cal = base.model_copy(deep=True)
    cal.metadata.calibration_date = datetime.datetime(2026, 11, 22, tzinfo=datetime.timezone.utc)   # one second for all
    cal.metadata.warnings = [f'writer {w} save {i}']
    reg.save(cal, 'fleet_box', spec={'preset': 'perf'})
'''


def newest_full_profile() -> Path:
    ps = sorted((p for p in (ROOT / 'hardware_registry').glob('cpu/*/calibrations/*.json')),
                key=lambda p: (p.stat().st_size, p.name))
    return ps[-1]


def start_server(in_process:bool):
    "A moto S3 server on 127.0.0.1: (endpoint URL, a function that stops it)."
    if in_process:
        from moto.server import ThreadedMotoServer
        server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False); server.start()
        host, port = server.get_host_and_port()
        return f'http://{host}:{port}', server.stop
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    p = subprocess.Popen([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try: urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=1); break
        except OSError: time.sleep(0.1)
    return f'http://127.0.0.1:{port}', p.terminate


def timed(f, n=1):
    ts, out = [], None
    for _ in range(n):
        t = time.perf_counter(); out = f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--profiles', type=int, default=500)
    ap.add_argument('--profile', type=Path, default=None)
    ap.add_argument('--in-process', action='store_true', help='the S3 server in a thread of this process')
    a = ap.parse_args()
    logging.disable(logging.CRITICAL)
    endpoint, stop = start_server(a.in_process)
    os.environ.update(AWS_ACCESS_KEY_ID='perf', AWS_SECRET_ACCESS_KEY='perf', AWS_DEFAULT_REGION='us-east-1',
                      AWS_ENDPOINT_URL=endpoint, CALIBKIT_CACHE=tempfile.mkdtemp())
    import s3fs
    from calibkit.registry import Registry
    from calibkit.sync import sync
    fs = s3fs.S3FileSystem(); fs.mkdir('perf')
    url, src = 's3://perf/calibkit', a.profile or newest_full_profile()
    rows = [('S3 server', f"moto {'in a thread of this process' if a.in_process else 'in its own process'}", ''),
            ('profile saved', f"{src.relative_to(ROOT) if src.is_relative_to(ROOT) else src} "
                              f"({src.stat().st_size / 2**20:.2f} MB)", '')]

    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, url, str(w), '25', str(src)], stderr=subprocess.PIPE,
                              text=True) for w in range(8)]
    errs = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - t
    failed = sum(p.returncode != 0 for p in procs)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        es = Registry(url).list_calibrations()
    got = {e.load().metadata.warnings[0] for e in es}
    want = {f'writer {w} save {i}' for w in range(8) for i in range(25)}
    rows += [('8 writers x 25 saves, one second', f"{len(es)} profiles in {wall:.1f} s", '200'),
             ('  lost / partial / writers failed', f"{len(want - got)} / {len(w)} / {failed}", '0 / 0 / 0')]
    if failed: print(errs[0][-2000:])

    more = a.profiles - len(es)
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, url, str(100 + w), str(more // 8 + (w < more % 8)),
                               str(src)]) for w in range(8)]
    for p in procs: p.wait()
    n = len(fs.find('perf/calibkit/cpu/fleet_box/calibrations'))
    cold = []
    for _ in range(3):                                   # a cold cache each time: every card read over HTTP
        os.environ['CALIBKIT_CACHE'] = tempfile.mkdtemp()
        cold.append(timed(lambda: Registry(url).list_calibrations())[0])
    warm, es = timed(lambda: Registry(url).list_calibrations(), 5)
    load_cold = timed(lambda: Registry(url, cache=tempfile.mkdtemp()).load('fleet_box'), 3)[0]
    load_warm = timed(lambda: Registry(url).load('fleet_box'), 3)[0]
    cli = timed(lambda: subprocess.run([str(Path(sys.executable).parent / 'calibkit'), 'list', '--registry', url,
                                        '--summary'], capture_output=True, text=True), 3)[0]
    rows += [(f'objects in the bucket', f"{n} in calibrations/ ({len(es)} profiles)", ''),
             (f'list {len(es)} profiles, cold cache', f"{statistics.median(cold):.2f} s (of {', '.join(f'{c:.2f}' for c in cold)})", '<= 3 s'),
             (f'list {len(es)} profiles, warm cache', f"{warm:.2f} s", ''),
             ('load the newest, cold / warm cache', f"{load_cold:.2f} s / {load_warm:.2f} s", ''),
             ('`calibkit list --summary` (a new process)', f"{cli:.2f} s", '')]

    local = Path(tempfile.mkdtemp()) / 'laptop'
    t_pull, rep = timed(lambda: sync(url, local))
    t_again, rep2 = timed(lambda: sync(url, local))
    t_push, rep3 = timed(lambda: sync(local, url))
    rows += [('pull everything to a folder', f"{len(rep.copied)} copied in {t_pull:.1f} s", ''),
             ('pull again / push back', f"{len(rep2.copied)} + {len(rep3.copied)} copied, {len(rep2.same)} + "
                                        f"{len(rep3.same)} already there, in {t_again:.2f} s / {t_push:.2f} s", '0 copied')]
    stop()

    w = max(len(r[0]) for r in rows); v = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w}}  {'value':<{v}}  target")
    for name, val, tgt in rows: print(f"{name:<{w}}  {val:<{v}}  {tgt}")


if __name__ == '__main__': main()
