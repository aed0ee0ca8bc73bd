"""The package's layers, checked on the imports written in its source (parsed with `ast`).

From the bottom up; a part may import its own package and any part of a lower layer, never
one beside or above it:

0. foundations: `config`, `text`, `csv_cells`, `redis_clients`, `tables`, `background`,
   `simulated_model` (the package root's `__version__` too)
1. `stats` (pure numpy/scipy) and `judging` (prompts, protocol, provider calls and their
   shared rate budgets)
2. `ops`: logs
3. `db`: tables and every SQL query
4. `jobs` (the worker, the dispatcher) and `labelling` (the label queue)
5. `web`: HTTP plumbing the API and the dashboard share (deps, auth, body limits)
6. `services`: what the API and the dashboard both do with the data
7. `api`, `dashboard`, `client`, `simulate`: the faces; none imports another
8. `app`: the one app factory, mounting the API and the dashboard
9. `demo` (the sample and its runner), then the entry points: 10. `cli`, 11. `__main__`

Also: no cycle between the parts, and only `simulate/`, `demo/` and `cli.py` (its
`simulate` command) import the simulator, so nothing a server runs depends on it.
"""

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import judge_service

PACKAGE = Path(judge_service.__file__).parent
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        (
            "",
            "config",
            "text",
            "csv_cells",
            "redis_clients",
            "tables",
            "background",
            "simulated_model",
        ),
        0,
    ),
    **dict.fromkeys(("stats", "judging"), 1),
    "ops": 2,
    "db": 3,
    **dict.fromkeys(("jobs", "labelling"), 4),
    "web": 5,
    "services": 6,
    **dict.fromkeys(("api", "dashboard", "client", "simulate"), 7),
    "app": 8,
    "demo": 9,
    "cli": 10,
    "__main__": 11,
}
# Imports allowed against the layers, each with why and until when.
EXCEPTIONS: set[tuple[str, str]] = set()
SIMULATOR_USERS = ("simulate", "demo", "cli")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. judge_service.api.routes.stats
    target: str  # the module it imports, e.g. judge_service.services.stats
    line: int

    @property
    def source_part(self) -> str:
        return part_of(self.source)

    @property
    def target_part(self) -> str:
        return part_of(self.target)

    def __str__(self) -> str:
        path = self.source.replace(".", "/")
        return f"{path}.py:{self.line} imports {self.target}"


def part_of(module: str) -> str:
    """The top-level subpackage or module of judge_service a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).is_dir() or (PACKAGE / relative).with_suffix(".py").is_file()


def imports_of(source: str, path: Path, tree: ast.AST) -> Iterator[Import]:
    """Every judge_service module the file imports, anywhere in it (lazy imports too)."""
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from judge_service.api import app` imports the module judge_service.api.app.
            names = [
                f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                for alias in node.names
            ]
        else:
            continue
        for name in dict.fromkeys(names):  # `from x import a, b` imports x once
            if name == "judge_service" or name.startswith("judge_service."):
                yield Import(source, name, node.lineno)


def package_imports() -> list[Import]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        found += imports_of(source, path, ast.parse(path.read_text(), str(path)))
    return found


def layer_violations(imports: Iterable[Import]) -> list[str]:
    """Imports of a part beside or above the importer's layer."""
    problems = []
    for item in imports:
        source, target = item.source_part, item.target_part
        if source == target or (item.source, item.target) in EXCEPTIONS:
            continue
        if source not in LAYERS or target not in LAYERS:
            unknown = source if source not in LAYERS else target
            problems.append(f"{item}: `{unknown}` has no layer in tests/test_layers.py")
        elif LAYERS[target] >= LAYERS[source]:
            problems.append(
                f"{item}: `{source}` (layer {LAYERS[source]}) may not import "
                f"`{target}` (layer {LAYERS[target]})"
            )
    return problems


def cycles(imports: Iterable[Import]) -> list[str]:
    """Each cycle between parts, as the imports that close it."""
    edges: dict[str, dict[str, Import]] = {}
    for item in imports:
        if item.source_part != item.target_part and (item.source, item.target) not in EXCEPTIONS:
            edges.setdefault(item.source_part, {}).setdefault(item.target_part, item)
    found: list[str] = []
    seen: set[frozenset[str]] = set()

    def walk(start: str, node: str, path: list[Import]) -> None:
        for nxt, item in sorted(edges.get(node, {}).items()):
            if nxt == start:
                loop = [*path, item]
                key = frozenset(step.source_part for step in loop)
                if key not in seen:
                    seen.add(key)
                    found.append(" -> ".join(str(step) for step in loop))
            elif nxt > start and all(step.target_part != nxt for step in path):
                walk(start, nxt, [*path, item])

    for start in sorted(edges):
        walk(start, start, [])
    return found


def simulator_imports(imports: Iterable[Import]) -> list[str]:
    return [
        f"{item}: only {', '.join(SIMULATOR_USERS)} may import the simulator"
        for item in imports
        if item.target_part == "simulate" and item.source_part not in SIMULATOR_USERS
    ]


def test_parts_import_only_lower_layers() -> None:
    problems = layer_violations(package_imports())
    assert not problems, "\n".join(problems)


def test_no_cycle_between_parts() -> None:
    found = cycles(package_imports())
    assert not found, "import cycles:\n" + "\n".join(found)


def test_api_and_dashboard_do_not_import_each_other() -> None:
    across = [
        str(item)
        for item in package_imports()
        if {item.source_part, item.target_part} == {"api", "dashboard"}
    ]
    assert not across, "\n".join(across)


def test_only_the_simulator_demo_and_cli_import_the_simulator() -> None:
    problems = simulator_imports(package_imports())
    assert not problems, "\n".join(problems)


def test_the_checks_name_the_offending_import() -> None:
    """The checks above report the file, line and module, so a failure says what to move."""
    back = Import("judge_service.stats.report", "judge_service.db.models", 7)
    loop = [
        Import("judge_service.jobs.dispatch", "judge_service.ops.logs", 3),
        Import("judge_service.ops.metrics", "judge_service.jobs.dispatch", 9),
    ]
    faces = Import("judge_service.dashboard.views", "judge_service.api.routes.stats", 21)
    simulator = Import("judge_service.dashboard.views", "judge_service.simulate.config", 28)

    assert layer_violations([back]) == [
        "judge_service/stats/report.py:7 imports judge_service.db.models: "
        "`stats` (layer 1) may not import `db` (layer 3)"
    ]
    assert cycles(loop) == [
        "judge_service/jobs/dispatch.py:3 imports judge_service.ops.logs -> "
        "judge_service/ops/metrics.py:9 imports judge_service.jobs.dispatch"
    ]
    assert (
        "judge_service/dashboard/views.py:21 imports judge_service.api.routes.stats"
        in (layer_violations([faces])[0])
    )
    assert simulator_imports([simulator]) == [
        "judge_service/dashboard/views.py:28 imports judge_service.simulate.config: "
        "only simulate, demo, cli may import the simulator"
    ]
