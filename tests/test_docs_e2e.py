"""The docs site: built with the docs command (MkDocs, Material), served on localhost, opened in headless Chromium
(Debian's). Every page makes no request beyond localhost; search, the grouped sidebar, the per-page table of contents,
the API sections and the plots work. Screenshots go to test-artifacts/ (look at them)."""
import functools, http.server, re, shutil, subprocess, sys, threading
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ART = ROOT / 'test-artifacts'
API = {'precision': 'canonical', 'schema': 'HardwareCalibration', 'timing': 'measure', 'console': 'progress',
       'platform': 'detect', 'presets': 'load_preset', 'bench_kernels': 'gemm_verdict', 'bench_numpy': 'NumpyBackend',
       'bench_torch': 'TorchBackend', 'bench_operators': 'calibrate_operators', 'tables': 'gemm_table',
       'calibrate': 'calibrate', 'store': 'ObjectStore', 'registry': 'Registry', 'sync': 'sync', 'graph': 'extract',
       'mapping': 'map_op', 'lookup': 'CalibrationLookup', 'coverage': 'analyze', 'estimate': 'estimate',
       'validate': 'validate', 'plots': 'roofline', 'widgets': 'CalibrationPicker', 'docs': 'build_docs', 'cli': 'main'}
SECTIONS = ['Calibrate', 'Registry', 'Analyse', 'Estimate', 'Interfaces', 'Examples']


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    r = subprocess.run([str(Path(sys.executable).parent / 'calibkit'), 'docs', '--out', str(out)], capture_output=True,
                       text=True, cwd=ROOT, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'pages in {out}' in r.stdout.splitlines()[-1], r.stdout[-500:]        # it ends saying what it built
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(out)))
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


def new_page(browser, url):
    "A page that records every request not to the site, and every console error."
    page = browser.new_page(viewport={'width': 1300, 'height': 900})
    page.outside, page.errors = [], []
    page.on('request', lambda r: r.url.startswith((url, 'data:', 'blob:')) or page.outside.append(r.url))
    page.on('console', lambda m: m.type == 'error' and page.errors.append(m.text))
    return page


def test_every_page_shows_its_api_and_loads_nothing_from_elsewhere(site, browser):
    out, url = site
    page = new_page(browser, url)
    for m, api in API.items():
        resp = page.goto(f"{url}/{m}.html")
        assert resp.ok, m
        assert page.locator('h1').first.inner_text().startswith(m.replace('bench_', 'bench.')), m
        assert page.locator(f'[id="{api.lower()}"]').count() >= 1, f"{m}: no API section for {api}"  # nbdev's anchors
        assert page.locator('.md-sidebar--secondary .md-nav__link').count() >= 1, f"{m}: no table of contents"
        assert (out / f"{m}.html.md").exists(), m                                   # what module docstrings link to
    assert page.outside == [] and page.errors == [], (page.outside[:5], page.errors[:5])
    page.close()


def test_sidebar_grouped_by_stage_and_navigation(site, browser):
    out, url = site
    page = new_page(browser, url)
    page.goto(f"{url}/index.html")
    labels = [t.strip() for t in page.locator('.md-sidebar--primary .md-nav__item--section > label, '
                                              '.md-sidebar--primary .md-nav__item--section > a').all_inner_texts()]
    assert [s for s in SECTIONS if s in labels] == SECTIONS, labels
    page.locator('.md-sidebar--primary a.md-nav__link', has_text='coverage').first.click()
    page.wait_for_url('**/coverage.html')
    assert page.title().startswith('coverage')
    assert page.outside == [], page.outside
    page.close()


def test_search_finds_pages(site, browser):
    out, url = site
    ART.mkdir(exist_ok=True)
    page = new_page(browser, url)
    page.goto(f"{url}/index.html")
    page.screenshot(path=str(ART / 'docs_home.png'))
    page.click('input.md-search__input')
    page.keyboard.type('roofline', delay=30)
    page.wait_for_selector('.md-search-result__item', timeout=30_000)
    titles = page.locator('.md-search-result__item h1').all_inner_texts()
    assert 'plots' in titles, titles
    page.screenshot(path=str(ART / 'docs_search.png'))
    page.locator('.md-search-result__item a', has_text='plots').first.click()
    page.wait_for_url('**/plots.html*')
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)
    page.close()


def test_plots_load_as_images(site, browser):
    out, url = site
    page = new_page(browser, url)
    for m, least in (('index', 3), ('plots', 3), ('widgets', 3), ('coverage', 1), ('validate', 1)):
        page.goto(f"{url}/{m}.html")
        page.wait_for_load_state('load')
        n = page.evaluate("document.querySelectorAll('.md-content img').length")
        loaded = page.evaluate("Array.from(document.querySelectorAll('.md-content img'))"
                               ".filter(i => i.complete && i.naturalWidth > 100).length")
        assert n >= least and loaded == n, (m, n, loaded)
    page.close()


def test_example_notebooks_are_pages_with_plots(site, browser):
    out, url = site
    examples = sorted((out / 'examples').glob('*.html'))
    assert examples, 'the executed calibration notebooks of the registry are published'
    page = new_page(browser, url)
    page.goto(f"{url}/examples/{examples[0].name}")
    assert 'EXECUTION DEVICE' in page.content()
    assert page.evaluate("Array.from(document.querySelectorAll('.md-content img'))"
                         ".filter(i => i.complete && i.naturalWidth > 100).length") >= 3
    page.goto(f"{url}/index.html")
    page.locator('.md-sidebar--primary a.md-nav__link', has_text=examples[0].stem).first.click()
    page.wait_for_url(f'**/examples/{examples[0].name}')
    page.close()


def test_no_test_code_or_jargon_in_pages(site):
    out, url = site
    for f in out.glob('*.html.md'):
        text = f.read_text()
        checks = re.findall(r'(?m)^\s*(?:test_\w+\(|assert )', text)          # a check as code, not named in prose
        assert checks == [], (f.name, checks[:3])
        assert ':NoneType=None' not in text, f.name
