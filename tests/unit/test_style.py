"""Code style the linter cannot check: a call with many arguments names them.

A function takes at most three parameters by position (the subjects it works on, e.g.
`plan_clips(words, spans, media_duration, *, opts)`); the rest are keyword-only, so a call
site says what each value is and two arguments of the same type can never be swapped
silently. Records follow the same rule: `@dataclass(kw_only=True)`, or a `KW_ONLY`
marker after their first fields.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ["clipforge", "stages", "state", "bench", "tools", "dodo.py", "tests/helpers.py"]
MAX_POSITIONAL = 3


def _files() -> list[Path]:
    out = []
    for name in CODE:
        path = ROOT / name
        out.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return out


def _positional(fn: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if in_class and names and names[0] in ("self", "cls") and not _is_static(fn):
        names = names[1:]
    return names


def _is_static(fn) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)


def _dataclass_call(cls: ast.ClassDef) -> ast.expr | None:
    for d in cls.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
        if name == "dataclass":
            return d
    return None


def _positional_fields(cls: ast.ClassDef, decorator: ast.expr) -> list[str]:
    if isinstance(decorator, ast.Call) and any(
            k.arg == "kw_only" and isinstance(k.value, ast.Constant) and k.value.value for k in decorator.keywords):
        return []
    fields = []
    for stmt in cls.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        note = ast.unparse(stmt.annotation)
        if note.endswith("KW_ONLY"):
            break  # every field after the marker is keyword-only
        if "ClassVar" not in note:
            fields.append(stmt.target.id)
    return fields


def offenders(tree: ast.AST, where: str) -> list[str]:
    found = []

    def visit(node, in_class: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = _positional(child, in_class)
                if len(names) > MAX_POSITIONAL:
                    found.append(f"{where}:{child.lineno} {child.name}({', '.join(names)})")
                visit(child, False)
            elif isinstance(child, ast.ClassDef):
                decorator = _dataclass_call(child)
                fields = _positional_fields(child, decorator) if decorator is not None else []
                if len(fields) > MAX_POSITIONAL:
                    found.append(f"{where}:{child.lineno} dataclass {child.name}({', '.join(fields)})")
                visit(child, True)
            else:
                visit(child, in_class)

    visit(tree, False)
    return found


def test_no_function_takes_more_than_three_positional_parameters():
    found = []
    for path in _files():
        found += offenders(ast.parse(path.read_text(), str(path)), str(path.relative_to(ROOT)))
    assert not found, "make the parameters after the third keyword-only (`*,`):\n" + "\n".join(found)


def test_the_checker_sees_what_it_should():
    src = """
from dataclasses import KW_ONLY, dataclass

def four(a, b, c, d): ...
def fine(a, b, c, *, d, e): ...
class K:
    def method(self, a, b, c, d): ...
    def ok(self, a, b, c): ...
    @staticmethod
    def static(self, a, b, c): ...
@dataclass
class Wide:
    a: int
    b: int
    c: int
    d: int
@dataclass
class Marked:
    a: int
    b: int
    c: int
    _: KW_ONLY
    d: int
@dataclass(frozen=True, kw_only=True)
class Named:
    a: int
    b: int
    c: int
    d: int
"""
    got = [line.split(" ", 1)[1].split("(")[0] for line in offenders(ast.parse(src), "x")]
    assert got == ["four", "method", "static", "dataclass Wide"]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_layering_runs_one_way():
    """clipforge/ (base modules and the doit glue) never imports a stage; stages and state use the
    base modules. The stage list names stage functions as strings, imported when a task runs."""
    up = {str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i.startswith("clipforge.stages"))
          for p in sorted((ROOT / "clipforge").rglob("*.py"))}
    assert {k: v for k, v in up.items() if v} == {}
    state = {str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i.startswith("clipforge.stages"))
             for p in sorted((ROOT / "state").rglob("*.py"))}
    assert {k: v for k, v in state.items() if v} == {}
