"""The docs site: built with the docs command, served on localhost, opened in headless Chromium (Debian's)."""
import functools, http.server, shutil, subprocess, sys, threading
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
MODULES = ['precision', 'schema', 'timing', 'platform', 'presets', 'bench_kernels', 'bench_numpy', 'bench_torch',
           'bench_operators', 'tables', 'calibrate', 'registry', 'graph', 'mapping', 'lookup', 'coverage', 'estimate',
           'validate', 'plots', 'widgets', 'docs', 'cli']
API = {'precision': 'canonical', 'schema': 'HardwareCalibration', 'platform': 'detect', 'presets': 'load_preset',
       'timing': 'measure', 'bench_kernels': 'gemm_verdict', 'bench_numpy': 'NumpyBackend', 'bench_torch': 'TorchBackend',
       'bench_operators': 'calibrate_operators', 'tables': 'gemm_table', 'calibrate': 'calibrate', 'registry': 'Registry',
       'graph': 'extract', 'mapping': 'map_op', 'lookup': 'CalibrationLookup', 'coverage': 'analyze',
       'estimate': 'estimate', 'validate': 'validate', 'plots': 'roofline', 'widgets': 'CalibrationPicker', 'cli': 'main',
       'docs': 'build_docs'}

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    r = subprocess.run([str(Path(sys.executable).parent / 'calibkit'), 'docs', '--out', str(out)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield out, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                                                             '--disable-component-update', '--disable-sync', '--no-first-run'])
        yield b
        b.close()

def test_every_module_page_shows_its_api(site, browser):
    out, url = site
    page = browser.new_page()
    for m in MODULES:
        resp = page.goto(f"{url}/{m}.html")
        assert resp.ok, m
        assert page.locator('h1').first.inner_text().startswith(m.replace('bench_', 'bench.')), m
        assert page.locator(f'[id="{API[m]}"]').count() >= 1, f"{m}: no API section for {API[m]}"
        assert page.locator('nav.ck-nav a').count() >= len(MODULES)
    page.close()

def test_plots_load_as_images(site, browser):
    out, url = site
    page = browser.new_page()
    for m, least in (('plots', 3), ('widgets', 3), ('coverage', 1), ('validate', 1)):
        page.goto(f"{url}/{m}.html")
        n = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length")
        assert n >= least and loaded == n, (m, n, loaded)
    page.close()

def test_example_notebooks_are_pages_with_plots(site, browser):
    out, url = site
    examples = sorted((out / 'examples').glob('*.html'))
    assert examples, 'the executed calibration notebooks of the registry are published'
    page = browser.new_page()
    page.goto(f"{url}/examples/{examples[0].name}")
    assert 'EXECUTION DEVICE' in page.content()
    assert page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 100).length") >= 3
    page.goto(f"{url}/index.html")
    page.click(f"nav.ck-nav a[href='examples/{examples[0].name}']")
    assert page.url.endswith(examples[0].name)
    page.close()
