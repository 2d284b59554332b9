"""The house rules: the product never imports the lab, and torch loads only where a model runs."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "mdlzip"


def product_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "lab" not in p.relative_to(PACKAGE).parts)


def imported_names(tree: ast.AST, skip_function: str | None = None):
    """(module name, line) of every import, the body of function `skip_function` left out."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == skip_function:
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield from ((f"{base}.{a.name}" if not node.module else base, node.lineno) for a in node.names)


def test_no_product_module_imports_the_lab():
    offenders = []
    for path in product_modules():
        tree = ast.parse(path.read_text())
        # the CLI's bench command is the one door to the lab, opened only when it runs
        for name, line in imported_names(tree, "bench" if path.name == "cli.py" else None):
            if "lab" in name.replace("..", ".").split("."):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []
    assert any(p.name == "cli.py" for p in product_modules()) and len(product_modules()) > 20


def test_the_rule_sees_an_offender(tmp_path):
    tree = ast.parse("from .lab import bench\nfrom ..lab.bench import run\nimport mdlzip.lab.corpora\n")
    assert len([n for n, _ in imported_names(tree) if "lab" in n.replace("..", ".").split(".")]) == 3


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


NO_TORCH = "import sys; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]"
NO_NUMBA = "\nassert 'numba' not in sys.modules  # info reads the sections; the kernel loads only to code"


def test_import_version_and_list_load_neither_torch_nor_numba(tmp_path):
    archive = tmp_path / "a.mdlz"
    archive.write_bytes((ROOT / "tests" / "golden" / "mixed_l1_v3.mdlz").read_bytes())
    python(f"import mdlzip, mdlzip.cli; {NO_TORCH}{NO_NUMBA}")
    for args in (["--version"], ["-l", str(archive)], ["info", "-v", str(archive)]):
        python("import sys; from mdlzip.cli import main\n"
               f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
               f"{NO_TORCH}{NO_NUMBA}")


def test_cm_and_classical_archives_are_made_and_read_without_torch():
    python("import mdlzip\n"
           "data = b'a line of text, and another line of text\\n' * 50\n"
           "a = mdlzip.compress(data, level=1, fallback=False)\n"
           "assert mdlzip.info(a).method == 'cm' and mdlzip.decompress(a) == data\n"
           "b = mdlzip.compress(data, level=1)\n"
           "assert mdlzip.decompress(b) == data\n"
           f"{NO_TORCH}")


@pytest.mark.parametrize("module", ["mdlzip.lab.bench", "mdlzip.lab.prequential", "mdlzip.lab.lumping"])
def test_lab_modules_import(module):
    python(f"import {module}")
