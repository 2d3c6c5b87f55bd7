"""Import layering, as an explicit matrix checked over every module of the package.

=================  ===========================================================
layer              may import (of ours)
=================  ===========================================================
core               the core only (``neurospell/``: types, check, logs, config,
                   markers, lsl, rawlog)
each stage         the core and itself (``acquisition``, ``preprocessing``,
                   ``decoder``, ``lm_fusion``): never another stage
session            the core and the stages (``session/``)
gui                the core, the session and itself
cli / commands     anything (``neurospell/cli.py``, ``__main__.py``, ``commands/``)
=================  ===========================================================

Inside a layer, sub-packages have rules of their own (``SUBPACKAGE_RULES``): the simulator
(``session/simulator/``) imports no live-session code (``session/live/``), so simulation
and replay run the real loop without the simulator depending on it; and, stated on its
own, the session layer never imports the GUI.

Imports are parsed with :mod:`ast` from every ``.py`` file, imports inside functions
included (an import placed in a function to dodge the layering is still a dependency).
The core, the session layer and the stages keep their first-party imports at module level
(a function may import a first-party module that is itself a heavy optional dependency,
see ``HEAVY_MODULES``).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("acquisition", "preprocessing", "decoder", "lm_fusion")
FOLDERS = {"neurospell": "neurospell", **{s: f"neurospell.{s}" for s in STAGES},
           "session": "neurospell.session", "gui": "neurospell.gui"}
ALLOWED = {
    "core": {"core"},
    **{s: {"core", s} for s in STAGES},
    "session": {"core", "session", *STAGES},
    "gui": {"core", "session", "gui"},
    "cli": {"core", "session", "gui", "cli", *STAGES},
}


def _modules():
    """(path, dotted module name) of every first-party module."""
    out = []
    for folder, pkg in FOLDERS.items():
        for py in sorted((ROOT / folder).rglob("*.py")):
            rel = py.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out.append((py, ".".join([pkg, *parts]), py.name == "__init__.py"))
    return out


def _layer(module: str) -> str | None:
    """The layer of a dotted name under ``neurospell`` (``None``: not ours)."""
    parts = module.split(".")
    if parts[0] != "neurospell":
        return None
    if len(parts) == 1:
        return "core"
    head = parts[1]
    if head in STAGES or head in ("session", "gui"):
        return head
    if head in ("cli", "commands", "__main__"):
        return "cli"
    return "core"


def _imports(path: Path, module: str, is_pkg: bool):
    """(imported dotted name, line, inside a function) for every import of a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if is_pkg else module.rpartition(".")[0]
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nested = {id(n) for f in funcs for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        inside = id(node) in nested
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, inside
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                name = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x: each name is a module or an attribute
                    for a in node.names:
                        yield f"{name}.{a.name}", node.lineno, inside
                    continue
                yield name, node.lineno, inside
            else:
                yield node.module or "", node.lineno, inside


MODULES = _modules()


def test_every_layer_has_modules():
    layers = {_layer(m) for _, m, _ in MODULES}
    assert layers >= {"core", "session", "cli", *STAGES}, layers
    assert len(MODULES) > 60


def test_import_matrix_over_every_module():
    bad = []
    for path, module, is_pkg in MODULES:
        mine = _layer(module)
        for name, line, _ in _imports(path, module, is_pkg):
            top = name.split(".")[0]
            if top in FOLDERS and top != "neurospell":
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name!r} by its folder name; "
                           f"use neurospell.{name}")
                continue
            other = _layer(name)
            if other is not None and other not in ALLOWED[mine]:
                bad.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {name} ({other})")
    assert not bad, "layering matrix violated:\n" + "\n".join(bad)


#: (importer prefix, forbidden prefix, why): a module under the first never imports one under the second.
SUBPACKAGE_RULES = (
    ("neurospell.session.simulator", "neurospell.session.live",
     "the simulator stands where a person sits; the live session may run with it, never the reverse dependency"),
    ("neurospell.session", "neurospell.gui", "the session layer runs without a window; the GUI imports it"),
)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _rule_violations(modules) -> list[str]:
    bad = []
    for path, module, is_pkg in modules:
        for importer, forbidden, why in SUBPACKAGE_RULES:
            if not _under(module, importer):
                continue
            for name, line, _ in _imports(path, module, is_pkg):
                if _under(name, forbidden):
                    bad.append(f"{path.name}:{line} ({module}) imports {name}: {why}")
    return bad


def test_subpackage_rules_over_every_module():
    names = [m for _, m, _ in MODULES]
    for importer, forbidden, _ in SUBPACKAGE_RULES:  # the rules are about packages that exist
        assert any(_under(m, importer) for m in names), importer
        assert any(_under(m, forbidden) for m in names), forbidden
    bad = _rule_violations(MODULES)
    assert not bad, "sub-package rules violated:\n" + "\n".join(bad)


def test_subpackage_rules_catch_a_violation(tmp_path):
    """The checker itself: relative and absolute imports, at module level or in a function."""
    f = tmp_path / "x.py"
    f.write_text("from ..live import intents\n\ndef f():\n    import neurospell.gui.app\n")
    found = _rule_violations([(f, "neurospell.session.simulator.x", False)])
    assert len(found) == 2 and "neurospell.session.live" in found[0] and "neurospell.gui.app" in found[1], found
    # the same imports from the live session: the GUI import only
    found = _rule_violations([(f, "neurospell.session.live.x", False)])
    assert len(found) == 1 and "neurospell.gui.app" in found[0], found
    f.write_text("from ..process import ParticipantProcess\nfrom neurospell.session.engine import SpellerEngine\n")
    assert _rule_violations([(f, "neurospell.session.simulator.x", False)]) == []


#: First-party modules that are themselves an optional heavy dependency (they import it at
#: module level): importing them inside a function is the lazy import of that dependency.
HEAVY_MODULES = {"neurospell.lm_fusion.char_transformer_net": "torch",
                 "neurospell.decoder.models": "torch"}


@pytest.mark.parametrize("layer", ["core", "session", *STAGES])
def test_first_party_imports_at_module_level(layer):
    """Imports inside functions are for optional heavy third-party dependencies only."""
    bad = []
    for path, module, is_pkg in MODULES:
        if _layer(module) != layer:
            continue
        for name, line, inside in _imports(path, module, is_pkg):
            if inside and _layer(name) is not None and name not in HEAVY_MODULES:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} inside a function")
    assert not bad, "\n".join(bad)


def test_heavy_first_party_modules_are_heavy():
    """The exceptions above are real: each imports its heavy dependency at module level."""
    paths = {module: (path, is_pkg) for path, module, is_pkg in MODULES}
    for module, heavy in HEAVY_MODULES.items():
        path, is_pkg = paths[module]
        top = {name.split(".")[0] for name, _, inside in _imports(path, module, is_pkg) if not inside}
        assert heavy in top, f"{module} no longer imports {heavy} at module level: import it at module level"


def test_matrix_check_catches_a_violation(tmp_path):
    """The checker itself: a core module importing a stage inside a function is caught."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from neurospell.decoder import ScoreModel\n    from ..session import engine\n")
    found = list(_imports(f, "neurospell.markers", False))
    assert [(n, inside) for n, _, inside in found] == [("neurospell.decoder", True), ("session", True)]
    assert _layer("neurospell.decoder") not in ALLOWED["core"]
    found = list(_imports(f, "neurospell.session.engine", False))
    assert found[1][0] == "neurospell.session"


def test_core_import_is_light():
    code = (
        "import sys, neurospell, neurospell.types, neurospell.config, neurospell.markers, neurospell.fileio, "
        "neurospell.check, neurospell.logs, neurospell.lsl, neurospell.rawlog;"
        "heavy = [m for m in ('torch', 'mne', 'pylsl', 'brainflow', 'PySide6') if m in sys.modules];"
        "ours = [m for m in sys.modules if m.split('.')[:2] in (['neurospell', s] for s in "
        + repr((*STAGES, "session", "gui", "commands")) + ")];"
        "print(heavy, ours); sys.exit(1 if heavy or ours else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_packages_resolve_under_neurospell():
    import importlib

    for folder in (*STAGES, "session", "gui"):
        mod = importlib.import_module(f"neurospell.{folder}")
        assert Path(mod.__file__).resolve().parent == (ROOT / folder).resolve()
