#!/usr/bin/env python
"""How the notebooks in nbs/ read, against the nbdev codebases held up as models (fastcore, nbdev, execnb).

Prints one table: cell sizes, long lines, examples per def, patches, private reach-ins, method names in `__all__`,
upward imports and cycles between calibkit's modules. Targets (issue 11): median exported cell <= 12 lines, none over
40; 0 exported lines over 120 characters; >= 1.0 example/test cells per exported def; 0 hand-written patches;
0 cross-module private imports; no method names in `__all__`; no upward imports, no cycles.

    python perf/nbstyle.py [--nbs nbs] [--lib calibkit]
"""
import argparse, ast, json, re, statistics
from pathlib import Path

def cells(nb):
    "(kind, source) of every cell of notebook `nb`."
    return [(c['cell_type'], ''.join(c['source'])) for c in json.loads(Path(nb).read_text())['cells']]

def directives(src): return [l[3:].strip() for l in src.splitlines() if l.startswith('#|')]
def is_export(src): return any(d.split()[0] in ('export', 'exports', 'exporti') for d in directives(src) if d)
def body(src): return [l for l in src.splitlines() if l.strip() and not l.startswith('#|')]

def is_example(src):
    "A code cell that runs something: not exported, not only imports or directives."
    if is_export(src): return False
    try: tree = ast.parse('\n'.join(body(src)))
    except SyntaxError: return bool(body(src))
    return any(not isinstance(s, (ast.Import, ast.ImportFrom)) for s in tree.body)

def defs_of(src):
    "Top-level defs and classes of an exported cell, and how many are hand-written patches / @patch methods."
    try: tree = ast.parse('\n'.join(body(src)))
    except SyntaxError: return [], 0, 0
    ds = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    hand = sum(isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Attribute)
               and isinstance(s.targets[0].value, ast.Name) and s.targets[0].value.id[:1].isupper()
               and (isinstance(s.value, ast.Name) or (isinstance(s.value, ast.Call)
                    and getattr(s.value.func, 'id', '') in ('classmethod', 'staticmethod', 'property')))
               for s in tree.body)
    patched = sum(any(getattr(d, 'id', getattr(getattr(d, 'func', None), 'id', None)) == 'patch' for d in s.decorator_list)
                  for s in ds if not isinstance(s, ast.ClassDef))
    return ds, hand, patched

def notebook_stats(nbs):
    st = dict(cells=[], long=0, lines=0, defs=0, examples=0, hand=0, patched=0, tags=0, multi=0)
    for nb in sorted(Path(nbs).glob('*.ipynb')):
        for kind, src in cells(nb):
            if kind != 'code': continue
            if is_export(src):
                b = body(src); st['cells'].append(len(b)); st['lines'] += len(b)
                st['long'] += sum(len(l) > 120 for l in b)
                ds, hand, patched = defs_of(src)
                st['defs'] += len(ds); st['hand'] += hand; st['patched'] += patched; st['multi'] += len(ds) > 1
                st['tags'] += len(re.findall(r'(?i)\b(?:seed \d{3}|FR\d+)\b', src))
            elif is_example(src) and 'default_exp' not in src: st['examples'] += 1
    return st

def module_name(path, lib): return '.'.join(path.relative_to(lib.parent).with_suffix('').parts)

def lib_stats(lib):
    "Private imports across modules, method names in __all__, and the import graph."
    lib = Path(lib); mods = {module_name(p, lib): p for p in lib.rglob('*.py') if p.name != '_modidx.py'}
    private, methods, graph = [], [], {}
    for m, p in mods.items():
        tree = ast.parse(p.read_text()); graph[m] = set()
        pkg = m.rsplit('.', 1)[0] if not p.name == '__init__.py' else m
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = node.module or ''
                if node.level: src = '.'.join(pkg.split('.')[:len(pkg.split('.')) - node.level + 1] + ([src] if src else []))
                if not src.startswith(lib.name): continue
                names = [a.name for a in node.names]
                tgt = src if src in mods else None
                for n in names:
                    full = f"{src}.{n}"
                    if full in mods: graph[m].add(full)
                    elif tgt: graph[m].add(tgt)
                    if n.startswith('_') and not n.startswith('__') and src != m: private.append(f"{m}: {src}.{n}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in mods: graph[m].add(a.name)
        graph[m].discard(m)             # a module naming itself (a function by reference, for a spawned process)
        alls = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == '__all__']
        names = set(ast.literal_eval(alls[0].value)) if alls else set()
        for n in tree.body:
            if isinstance(n, ast.FunctionDef) and n.name in names and n.args.args and n.args.args[0].arg == 'self':
                methods.append(f"{m}.{n.name}")
    return private, methods, graph

def bands(nbs, lib):
    "Module -> the number of the notebook that exports it (the notebook's stage band)."
    out = {}
    for nb in Path(nbs).glob('*.ipynb'):
        for kind, src in cells(nb):
            m = re.search(r'#\|\s*default_exp\s+(\S+)', src)
            num = re.match(r'(\d+)', nb.name)
            if m and num: out[f"{Path(lib).name}.{m[1]}"] = int(num[1])
    return out

def cycles(graph):
    seen, stack, found = set(), [], []
    def visit(m):
        if m in stack: found.append(stack[stack.index(m):] + [m]); return
        if m in seen: return
        seen.add(m); stack.append(m)
        for n in graph.get(m, ()): visit(n)
        stack.pop()
    for m in graph: visit(m)
    return found

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--nbs', default='nbs'); ap.add_argument('--lib', default='calibkit')
    a = ap.parse_args()
    st = notebook_stats(a.nbs); private, methods, graph = lib_stats(a.lib); band = bands(a.nbs, a.lib)
    upward = [f"{m} -> {n}" for m, ns in graph.items() for n in ns if m in band and n in band and band[n] > band[m]]
    cyc = cycles(graph)
    c = st['cells']
    rows = [('exported cells', len(c), ''),
            ('median exported cell (lines)', statistics.median(c) if c else 0, '<= 12'),
            ('largest exported cell (lines)', max(c, default=0), '<= 40'),
            ('exported cells over 40 lines', sum(x > 40 for x in c), '0'),
            ('exported lines over 120 chars', f"{st['long']} ({100*st['long']/max(st['lines'],1):.1f}%)", '0'),
            ('exported defs and classes', st['defs'], ''),
            ('example/test cells per def', round(st['examples'] / max(st['defs'], 1), 2), '>= 1.0'),
            ('exported cells with 2+ defs', st['multi'], ''),
            ('@patch methods', st['patched'], ''),
            ('hand-written patches (Cls.m = f)', st['hand'], '0'),
            ('cross-module private imports', len(private), '0'),
            ('method names in __all__', len(methods), '0'),
            ('upward imports (by notebook band)', len(upward), '0'),
            ('import cycles', len(cyc), '0'),
            ('seed/FR tags in exported code', st['tags'], '0')]
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>12}  target")
    for name, v, t in rows: print(f"{name:<{w}}  {str(v):>12}  {t}")
    for title, xs in (('private imports', private), ('methods in __all__', methods), ('upward', upward), ('cycles', cyc)):
        if xs: print(f"\n{title}:\n  " + '\n  '.join(map(str, xs[:40])))

if __name__ == '__main__': main()
