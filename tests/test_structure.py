"""The package's structure: the subcommands share grader/context.py and never import grader/cli.py.

grader/cli.py assembles the ``grade`` group from the subcommands' modules; if one of them
imported cli.py back (even late, inside a function), the modules would again form the
import circle that made the CLI hard to follow. This reads every module's source with
``ast`` (nothing is imported), so a late import inside a function counts too.
"""
import ast
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "grader"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(GRADER.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every module ``path`` (the module named ``module``: by default, where it is in
    grader/) imports, as absolute names (relative imports resolved)."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)  # from grader import cli
    return found


def test_no_module_but_main_imports_the_cli():
    importers = sorted(_module_name(p) for p in GRADER.rglob("*.py")
                       if "grader.cli" in _imported_modules(p) and p.name != "__main__.py"
                       and p != GRADER / "cli.py")
    assert importers == [], f"these modules import grader.cli; take what they need from grader.context: {importers}"


def test_the_reader_sees_every_way_of_importing_the_cli(tmp_path):
    """The check above cannot pass by missing an import form (a test that could not fail)."""
    forms = ["from ..cli import main\n", "def f():\n    from .. import cli\n",
             "import grader.cli as c\n", "from grader import cli\n"]
    for i, text in enumerate(forms):
        path = tmp_path / f"probe{i}.py"
        path.write_text(text, encoding="utf-8")
        assert "grader.cli" in _imported_modules(path, "grader.quiz.probe"), text  # as if in grader/quiz/
    path.write_text("from .context import fail_setup\nimport click\n", encoding="utf-8")
    assert "grader.cli" not in _imported_modules(path, "grader.probe")


def test_the_context_imports_no_subcommand():
    imported = _imported_modules(GRADER / "context.py")
    subcommands = {"grader.watch", "grader.hints", "grader.plots", "grader.replay", "grader.quiz.cli",
                   "grader.timing.bench", "grader.classroom.commands", "grader.classroom.gitref",
                   "grader.author.commands", "grader.cli"}
    assert not imported & subcommands, imported & subcommands
