"""Import layering: stage packages import only the neurospell core and third-party code."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("acquisition", "preprocessing", "decoder", "lm_fusion", "gui")


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # relative import: resolve against the file's stage package
                yield "." * node.level + (node.module or ""), node.lineno
            else:
                yield node.module or "", node.lineno


def test_stages_never_import_each_other():
    bad = []
    for stage in STAGES:
        for py in (ROOT / stage).rglob("*.py"):
            for mod, line in _imports(py):
                if mod.startswith("."):
                    depth = len(mod) - len(mod.lstrip("."))
                    rel_parts = py.relative_to(ROOT / stage).parts
                    if depth > len(rel_parts):  # climbs out of the stage package
                        bad.append(f"{py.relative_to(ROOT)}:{line} relative import {mod!r} leaves {stage}")
                    continue
                for other in STAGES:
                    if other == stage:
                        continue
                    if mod == f"neurospell.{other}" or mod.startswith(f"neurospell.{other}.") or mod == other or mod.startswith(f"{other}."):
                        bad.append(f"{py.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "stage packages must import only neurospell core and third-party code:\n" + "\n".join(bad)


def test_core_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, neurospell, neurospell.types, neurospell.config, neurospell.markers;"
        "heavy = [m for m in ('torch', 'mne', 'pylsl', 'brainflow', 'PySide6') if m in sys.modules];"
        "stages = [m for m in sys.modules if m.split('.')[:2] in (['neurospell', s] for s in "
        + repr(STAGES) + ")];"
        "print(heavy, stages); sys.exit(1 if heavy or stages else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_stage_packages_resolve_under_neurospell():
    import importlib

    for stage in STAGES:
        mod = importlib.import_module(f"neurospell.{stage}")
        assert Path(mod.__file__).resolve().parent == (ROOT / stage).resolve()
