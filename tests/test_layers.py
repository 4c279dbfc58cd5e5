"""The arrows between layers, checked on the source rather than trusted: ``federation/`` is the protocol in
plain Python (no Flask, nothing from ``linkblog.web``, nothing that needs an app context), modules do not
reach into each other's private names, and the federation worker starts without loading the web stack."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import linkblog

PACKAGE = Path(linkblog.__file__).parent
WEB_STACK = ("flask", "werkzeug", "jinja2")
WEB_MODULES = ("linkblog.web", "linkblog.app", "linkblog.wsgi")
APP_CONTEXT_NAMES = {"site", "create_app", "web", "app", "wsgi"}   # from linkblog import ...
MAX_LINES = 500
# What each lower layer may not import: reads and models never reach up into services or entry points,
# and services never reach into the entry points.
ENTRY_POINTS = ("linkblog.web", "linkblog.cli", "linkblog.app", "linkblog.wsgi")
SERVICES = ("linkblog.bookmarks", "linkblog.weeknotes", "linkblog.account", "linkblog.tokens", "linkblog.settings",
            "linkblog.transfer", "linkblog.federation", "linkblog.links")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, *, is_package: bool = False) -> list[tuple[str, list[str], int]]:
    """(absolute module, names imported from it, line) for every import statement in ``source``, also
    those inside functions (lazy imports count as much as top-level ones)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            if node.level == 0:
                name = node.module or ""
            else:
                name = f"{base}.{node.module}" if node.module else base
            found.append((name, [alias.name for alias in node.names], node.lineno))
    return found


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    return imports(path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py")


def sources(*areas: str) -> list[Path]:
    roots = [PACKAGE / area for area in areas] if areas else [PACKAGE]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def web_arrows(path: Path) -> list[str]:
    """Imports in ``path`` that point from the protocol to the web layer."""
    wrong = []
    for name, names, line in imports_of(path):
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        if name.split(".")[0] in WEB_STACK:
            wrong.append(f"{where} imports {name}")
        elif any(name == web or name.startswith(web + ".") for web in WEB_MODULES):
            wrong.append(f"{where} imports {name}")
        elif name == "linkblog" and APP_CONTEXT_NAMES & set(names):
            wrong.append(f"{where} imports {sorted(APP_CONTEXT_NAMES & set(names))} from linkblog")
    return wrong


def private_imports(path: Path) -> list[str]:
    return [f"{path.relative_to(PACKAGE.parent)}:{line} imports {n} from {name}"
            for name, names, line in imports_of(path) for n in names
            if n.startswith("_") and not n.startswith("__")]


def private_attributes(path: Path) -> list[str]:
    return [f"{path.relative_to(PACKAGE.parent)}:{line} uses {used}" for line, used in
            private_attributes_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")]


def private_attributes_in(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``module._name`` where ``module`` is another linkblog module this source imported by name."""
    tree = ast.parse(source)
    modules: set[str] = set()
    for name, names, _line in imports(source, module, is_package=is_package):
        if name.startswith("linkblog"):
            for imported in names:   # `from . import inbox`: inbox is a module when its file exists
                target = PACKAGE.parent.joinpath(*f"{name}.{imported}".split("."))
                if target.with_suffix(".py").exists() or (target / "__init__.py").exists():
                    modules.add(imported)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.asname and (isinstance(node, ast.Import) or alias.name in modules):
                    modules.add(alias.asname)
    return sorted((node.lineno, f"{node.value.id}.{node.attr}") for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in modules and node.attr.startswith("_") and not node.attr.startswith("__"))


def upward_imports(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted({f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
                   for name, names, line in imports_of(path)
                   for target in [name, *(f"{name}.{n}" for n in names)]
                   if any(target == f or target.startswith(f + ".") for f in forbidden)})


# --- the checker itself -----------------------------------------------------------------------------------


def test_the_scan_resolves_relative_and_function_level_imports():
    source = ("from __future__ import annotations\n"
              "from . import keys\n"
              "def view():\n"
              "    from ..web.security import is_owner\n"
              "    import flask\n"
              "    from .. import site\n")
    found = imports(source, "linkblog.federation.example")
    assert ("linkblog.federation", ["keys"], 2) in found
    assert ("linkblog.web.security", ["is_owner"], 4) in found
    assert ("flask", [], 5) in found
    assert ("linkblog", ["site"], 6) in found
    assert imports("from . import x\n", "linkblog.web", is_package=True) == [("linkblog.web", ["x"], 1)]


# --- the arrows -------------------------------------------------------------------------------------------


def test_federation_imports_neither_flask_nor_the_web_layer():
    files = sources("federation")
    assert len(files) > 10
    assert [arrow for path in files for arrow in web_arrows(path)] == []


def test_no_module_imports_another_modules_private_names():
    files = sources()
    assert len(files) > 60
    assert [found for path in files for found in private_imports(path)] == []
    assert [found for path in files for found in private_attributes(path)] == []


def test_the_private_attribute_scan_finds_module_private_access():
    source = "from . import inbox\nfrom .. import bookmarks as b\ninbox._secret()\nb._hidden\ninbox.public()\n"
    assert private_attributes_in(source, "linkblog.federation.probe") == [(3, "inbox._secret"), (4, "b._hidden")]


def test_reads_and_models_never_import_services_or_entry_points():
    lower = [*sources("queries"), *(PACKAGE / f"{name}.py" for name in
                                    ("models", "db", "config", "dates", "urls", "tags", "markup", "files"))]
    assert [found for path in lower for found in upward_imports(path, SERVICES + ENTRY_POINTS)] == []


def test_services_never_import_entry_points():
    services = [*sources("transfer"), *sources("federation"),
                *(PACKAGE / f"{name}.py" for name in ("bookmarks", "weeknotes", "account", "tokens"))]
    assert [found for path in services for found in upward_imports(path, ENTRY_POINTS)] == []


def test_no_module_is_over_500_lines():
    sizes = {str(path.relative_to(PACKAGE.parent)): len(path.read_text(encoding="utf-8").splitlines())
             for path in sources() if "migrations" not in path.parts}
    long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert long == {}


LOADED_WEB_MODULES = (f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_STACK!r} "
                      f"or m.startswith({WEB_MODULES!r})))")


def loaded_in_fresh_interpreter(statements: str) -> str:
    """What a new process (the worker's situation) has loaded from the web stack after ``statements``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent),
                                                                    os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", f"import sys\n{statements}\n{LOADED_WEB_MODULES}"],
                            capture_output=True, text=True, env=env, timeout=60, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_worker_starts_without_flask():
    assert loaded_in_fresh_interpreter("import linkblog.federation.worker") == "[]"


def test_no_federation_module_loads_flask():
    every = "\n".join(f"import {module_name(path)}" for path in sources("federation"))
    assert loaded_in_fresh_interpreter(every) == "[]"


PAGE_PARSERS = ("trafilatura", "lxml", "justext", "htmldate", "courlan")


def test_the_web_process_never_loads_the_page_parsers():
    """trafilatura and lxml are the worker's (page copies): the web process's memory is measured without them."""
    loaded = loaded_in_fresh_interpreter(
        "from linkblog.app import create_app\nimport linkblog.web, linkblog.links.copies\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PAGE_PARSERS!r}))")
    assert loaded.splitlines()[0] == "[]"


def test_no_page_copy_module_loads_flask():
    every = "\n".join(f"import {module_name(path)}" for path in sources("links"))
    assert loaded_in_fresh_interpreter(every) == "[]"
