"""The structure (docs/architecture.md, "Layers") holds: every module of the library sits in one
layer of the import-linter contract, no module or class outgrows its limit, and an upward import
makes ``lint-imports`` (run by ``scripts/test.sh``, so by CI) fail."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_PACKAGES = ("api", "jobs", "ui", "app_pages")
MODULE_LINES = 500
# packages whose modules sit in different layers: each module is placed on its own, and the
# package's __init__ only re-exports (an import through it is still checked link by link)
REEXPORTING_PACKAGES = (
    "helios.alerts",
    "helios.market",
    "helios.optimizer",
    "helios.positions",
    "helios.reconciliation",
    "helios.replay",
    "helios.reports",
    "helios.risk",
    "helios.signals",
)
CLASS_LINES = 400


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _layer_modules() -> list[str]:
    names = []
    for layer in _contracts()["layers"]["layers"]:
        for part in layer.replace("|", ":").split(":"):
            names.append(part.strip().strip("()"))
    return names


def _modules(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join(parts))
    return found


def _sources() -> list[Path]:
    paths = [ROOT / "app.py"]
    for package in ("helios", *SHELL_PACKAGES):
        paths += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(paths)


def test_every_library_module_sits_in_one_layer() -> None:
    layered = _layer_modules()
    assert len(layered) == len(set(layered)), "a module is named in two layers"
    # a package named in a layer covers its modules; the root package only re-exports
    packages = set(REEXPORTING_PACKAGES) | {"helios"}
    unplaced = [
        module
        for module in _modules("helios")
        if module not in packages
        and not any(module == name or module.startswith(name + ".") for name in layered)
    ]
    assert unplaced == [], f"modules in no layer of pyproject.toml's contract: {unplaced}"


def test_the_split_packages_only_re_export() -> None:
    """A package whose modules sit in different layers holds no code of its own in its
    ``__init__``: imports, ``__all__`` and the docstring only."""
    for package in REEXPORTING_PACKAGES:
        tree = ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())
        code = [
            ast.unparse(node)[:80]
            for node in tree.body
            if not isinstance(node, ast.Expr | ast.Import | ast.ImportFrom)
            and not (
                isinstance(node, ast.Assign)
                and [getattr(target, "id", "") for target in node.targets] == ["__all__"]
            )
        ]
        assert code == [], f"{package}/__init__.py holds code: {code}"


def test_no_module_over_its_size_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _sources()
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES
    }
    assert too_long == {}, f"modules over {MODULE_LINES} lines: {too_long}"


def test_no_class_over_its_size_limit() -> None:
    too_long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > CLASS_LINES:
                    too_long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert too_long == {}, f"classes over {CLASS_LINES} lines: {too_long}"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.fail(
            f"lint-imports is not installed beside {sys.executable} (pip install -e .[dev])"
        )
    return subprocess.run(
        [str(command), "--no-cache"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def copy_of_the_project(tmp_path: Path) -> Path:
    for package in ("helios", *SHELL_PACKAGES):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(copy_of_the_project: Path) -> None:
    result = _lint_imports(copy_of_the_project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "upward", "contract"),
    [
        # a pure rule reading the database's service
        ("helios/risk/checks.py", "from helios.ledger import Ledger", "each layer"),
        # a basic importing a service, under TYPE_CHECKING (type-only imports count)
        (
            "helios/money.py",
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    from helios.facade import Helios",
            "each layer",
        ),
        # the persistence layer calling a command
        ("helios/events.py", "import helios.controls", "each layer"),
        # a shell importing another
        ("jobs/scheduler.py", "import api.app", "shells"),
        # the library importing a shell's framework
        ("helios/ledger.py", "import streamlit", "framework"),
    ],
)
def test_an_upward_import_breaks_the_check(
    copy_of_the_project: Path, module: str, upward: str, contract: str
) -> None:
    path = copy_of_the_project / module
    path.write_text(path.read_text() + "\n" + upward + "\n")
    result = _lint_imports(copy_of_the_project)
    assert result.returncode != 0, result.stdout[-3000:]
    broken = result.stdout[result.stdout.find("Broken contracts") :]
    assert contract in broken, broken[-3000:]
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} is not allowed to import" in broken or importer in broken, broken[-3000:]
