"""The widgets in a real JupyterLab, driven in headless Chromium (Debian's) with Playwright: open the walk-through
notebook, render `CalibrationPicker` and `RegistryBrowser`, change the preset, run a quick calibration from the
picker, save it, and see it in the browser. Any browser-console error, page error or kernel error fails the test.
Screenshots go to test-artifacts/ (look at them)."""
import os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ART = ROOT / 'test-artifacts'
TOKEN = 'calibkit-e2e'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server on localhost over a folder holding the walk-through notebook; the kernel's registry is empty."
    work = tmp_path_factory.mktemp('lab')
    shutil.copy(ROOT / 'examples' / 'widgets.ipynb', work / 'widgets.ipynb')
    env = {**os.environ, 'CALIBKIT_REGISTRY': str(work / 'reg'), 'JUPYTER_RUNTIME_DIR': str(work / 'runtime'),
           'JUPYTER_CONFIG_DIR': str(work / 'config'), 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}
    news = work / 'settings' / '@jupyterlab' / 'apputils-extension'
    news.mkdir(parents=True)
    (news / 'notification.jupyterlab-settings').write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = free_port()
    log = open(work / 'server.log', 'w')
    srv = subprocess.Popen([str(BIN / 'jupyter'), 'lab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
                            f'--IdentityProvider.token={TOKEN}', f'--ServerApp.root_dir={work}', '--allow-root',
                            f'--LabApp.workspaces_dir={work / "ws"}', f'--LabApp.user_settings_dir={work / "settings"}',
                            '--LabApp.expose_app_in_browser=True'],
                           cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    for _ in range(120):
        if srv.poll() is not None: break
        try:
            urllib.request.urlopen(f'{url}/api/status?token={TOKEN}', timeout=2); break
        except Exception: time.sleep(0.5)
    if srv.poll() is not None: pytest.fail('JupyterLab did not start: ' + (work / 'server.log').read_text()[-2000:])
    yield url, work
    srv.terminate()
    try: srv.wait(20)
    except subprocess.TimeoutExpired: srv.kill()
    log.close()


@pytest.fixture(scope='module')
def page(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--no-first-run',
                                                             '--disable-background-networking', '--disable-sync'])
        pg = b.new_page(viewport={'width': 1400, 'height': 1000})
        pg.problems = []
        pg.on('console', lambda m: m.type == 'error' and pg.problems.append(f'console: {m.text}'))
        pg.on('pageerror', lambda e: pg.problems.append(f'page error: {e}'))
        yield pg
        b.close()


def run_cell(page, i: int):
    "Run the notebook's i-th cell (0-based) through JupyterLab's own command, as Shift+Enter does."
    page.evaluate("""i => { const nb = window.jupyterapp.shell.currentWidget.content;
                            nb.activeCellIndex = i; }""", i)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-cell')")


def kernel_errors(page) -> list[str]:
    "Text of every error or stderr output in the notebook (a Traceback, a warning printed by the kernel)."
    return page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()


def test_picker_calibrates_saves_and_browser_shows_it(lab, page):
    url, work = lab
    ART.mkdir(exist_ok=True)
    page.goto(f'{url}/lab/tree/widgets.ipynb?token={TOKEN}')
    page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
                           timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    picker = page.locator('.jp-Cell').nth(3)
    preset = picker.locator('.widget-dropdown select').first
    preset.wait_for(timeout=120_000)
    assert preset.input_value() == 'auto'                       # the picker opens on this host's own preset
    framework = picker.locator('.widget-toggle-buttons button.mod-active')
    assert framework.inner_text().strip() == 'numpy'

    jetson = next(t for t in preset.locator('option').all_inner_texts() if t.startswith('jetson-orin-nano'))
    preset.select_option(label=jetson)                          # a GPU preset (not this host's): the framework follows
    page.wait_for_function("""() => [...document.querySelectorAll('.widget-toggle-buttons button.mod-active')]
                              .some(b => b.textContent.trim() === 'pytorch')""", timeout=30_000)
    preset.select_option(label='auto')
    page.wait_for_function("""() => [...document.querySelectorAll('.widget-toggle-buttons button.mod-active')]
                              .some(b => b.textContent.trim() === 'numpy')""", timeout=30_000)
    picker.locator('.widget-select-multiple select').nth(1).select_option(label=['stream'])   # seconds, not a minute
    picker.get_by_role('button', name='Run').click()
    status = picker.locator('.widget-html-content').first
    page.wait_for_function("""el => /✓ Done|✗/.test(el.textContent)""", arg=status.element_handle(), timeout=300_000)
    assert status.inner_text().startswith('✓ Done'), status.inner_text()
    picker.locator('img').first.wait_for(timeout=60_000)       # the roofline, drawn into the picker's output
    picker.screenshot(path=str(ART / 'jupyterlab_picker.png'))
    picker.get_by_role('button', name='Save').click()
    page.wait_for_function("""el => /Saved|✗/.test(el.textContent)""", arg=status.element_handle(), timeout=60_000)
    assert status.inner_text().startswith('✓ Saved: '), status.inner_text()
    saved = list((work / 'reg').glob('cpu/*/calibrations/*.json'))
    assert len(saved) == 1

    run_cell(page, 5)                                           # the browser again, now that the registry has it
    browser = page.locator('.jp-Cell').nth(5)
    page.wait_for_function("""() => { const c = document.querySelectorAll('.jp-Cell')[5];
                              const s = c && c.querySelectorAll('.widget-dropdown select');
                              return s && s.length >= 2 && s[1].options.length >= 1 && c.querySelector('img'); }""",
                           timeout=120_000)
    selects = browser.locator('.widget-dropdown select')
    assert selects.nth(0).input_value() == saved[0].parent.parent.name          # the device it was saved under
    mode, mhz, _, fw = selects.nth(1).input_value().split()[:4]                # and the calibration itself
    assert saved[0].name.startswith(f'{mode}_{mhz}MHz_{fw}_'), (selects.nth(1).input_value(), saved[0].name)
    time.sleep(1)
    page.screenshot(path=str(ART / 'jupyterlab_notebook.png'), full_page=True)
    browser.screenshot(path=str(ART / 'jupyterlab_browser.png'))
    assert kernel_errors(page) == [], kernel_errors(page)
    assert page.problems == [], page.problems
