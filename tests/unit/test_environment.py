"""environment.yml (Binder, conda) and pyproject.toml (pip) list the same Python packages."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pip_deps_of_environment() -> list[str]:
    deps, inside = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^\s*- pip:\s*$", line):
            inside = True
        elif inside and re.match(r"^\s{6}- ", line):
            deps.append(line.split("- ", 1)[1].strip())
        elif inside and line.strip() and not line.startswith(" " * 6):
            inside = False
    return deps


def _deps_of_pyproject() -> list[str]:
    # tomllib is 3.11+; the one array of strings this needs reads as a Python literal.
    text = (ROOT / "pyproject.toml").read_text()
    return ast.literal_eval(re.search(r"^dependencies = (\[.*?^\])", text, re.M | re.S).group(1))


def test_environment_yml_matches_pyproject():
    assert sorted(_pip_deps_of_environment()) == sorted(_deps_of_pyproject())


def test_binder_environment_is_a_symlink_to_the_top_level_one():
    link = ROOT / "binder" / "environment.yml"
    assert link.is_symlink()
    assert link.resolve() == (ROOT / "environment.yml").resolve()


def test_ci_runs_the_readme_test_command_and_nothing_else():
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert commands == ["exec ./lab test"]
    assert "sudo ./lab test" in readme and "sudo ./lab open" in readme
