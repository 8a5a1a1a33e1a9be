"""Scheduling points finer than `sync`: shared-attribute accesses and source lines.

`access`: `watched(cls, "attr", ...)` puts a data descriptor on the class so every read and
write of that attribute is a scheduling point (and can be observed, e.g. to record a branch's
status transitions). `line`: `lines(module)` recompiles the module's source with a call before
every statement and swaps the new code objects into the existing functions. We instrument the
source rather than use `sys.settrace`/`sys.monitoring` because a greenlet switch from inside a
trace callback leaves the interpreter's tracing flag set for the other greenlets, which then run
untraced (measured on 3.11 and 3.13; see docs/benchmarks.md); calls in the code are plain calls.
"""

from __future__ import annotations

import ast
import functools
import inspect
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from interleavings.execution import active

Observer = Callable[[Any, str, Any, Any], None]
ReadObserver = Callable[[Any, str, Any], None]
_MISSING = object()


class _Watched:
    """Data descriptor: a scheduling point before each read and write of one attribute."""

    def __init__(
        self,
        attr: str,
        owner: type,
        reads: bool,
        writes: bool,
        observer: Observer | None,
        read_observer: ReadObserver | None,
    ) -> None:
        self.attr = attr
        self.owner = owner.__name__
        self.reads = reads
        self.writes = writes
        self.observer = observer
        self.read_observer = read_observer

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.attr]
        except KeyError:
            raise AttributeError(self.attr) from None
        ex = active()
        if self.reads and ex is not None and ex.current is not None and not ex.finishing:
            ex._point("read", f"{self.owner}.{self.attr}", _short(value))
        if self.read_observer is not None:
            self.read_observer(obj, self.attr, obj.__dict__.get(self.attr, value))
        return obj.__dict__.get(self.attr, value)

    def __set__(self, obj: Any, value: Any) -> None:
        ex = active()
        old = obj.__dict__.get(self.attr, _MISSING)
        if self.writes and ex is not None and ex.current is not None and not ex.finishing:
            ex._point("write", f"{self.owner}.{self.attr}", _short(value))
        obj.__dict__[self.attr] = value
        if self.observer is not None:
            self.observer(obj, self.attr, None if old is _MISSING else old, value)


def _short(value: Any) -> str:
    text = getattr(value, "name", None) if hasattr(value, "name") else None
    return str(text if isinstance(text, str) else value)[:40]


@contextmanager
def watched(
    cls: type,
    *attrs: str,
    reads: bool = True,
    writes: bool = True,
    observer: Observer | None = None,
    read_observer: ReadObserver | None = None,
) -> Iterator[None]:
    """Make every access to `cls.<attr>` a scheduling point while the context is open.

    With `reads=False, writes=False` the attribute is only observed, not a scheduling point:
    that is how an adapter records state changes at `sync` granularity.
    """
    saved = {a: cls.__dict__.get(a, _MISSING) for a in attrs}
    try:
        for a in attrs:
            setattr(cls, a, _Watched(a, cls, reads, writes, observer, read_observer))
        yield
    finally:
        for a, old in saved.items():
            if old is _MISSING:
                delattr(cls, a)
            else:
                setattr(cls, a, old)


LINE_HOOK = "__interleavings_line__"


def _line_point(lineno: int) -> None:
    ex = active()
    if ex is not None and ex.current is not None and not ex.finishing:
        ex._point("line", "", str(lineno))


class _Insert(ast.NodeTransformer):
    """Prefix every statement inside a function with `__interleavings_line__(lineno)`."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if is_def or getattr(node, "_in_function", False):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(node, name, _prefixed(block))
        return node


def _prefixed(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in body:
        if not _is_hook(stmt):
            call = ast.Expr(
                ast.Call(ast.Name(LINE_HOOK, ast.Load()), [ast.Constant(stmt.lineno)], [])
            )
            out.append(ast.fix_missing_locations(ast.copy_location(call, stmt)))
        out.append(stmt)
    return out


def _is_hook(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Name)
        and stmt.value.func.id == LINE_HOOK
    )


def _mark_functions(tree: ast.AST) -> None:
    def walk(node: ast.AST, inside: bool) -> None:
        node._in_function = inside  # type: ignore[attr-defined]
        nested = inside or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            walk(child, nested)

    walk(tree, False)


def instrumented_code(module: types.ModuleType, source: str | None = None) -> dict[str, Any]:
    """Compile `module`'s source with line points; returns qualname -> code object.

    Cached per (file name, source text): recompiling an SDK module costs ~100 ms, far more
    than the execution it instruments.
    """
    source = source if source is not None else inspect.getsource(module)
    filename = getattr(module, "__file__", None) or f"<{module.__name__}>"
    return dict(_compiled(filename, source))


@functools.lru_cache(maxsize=64)
def _compiled(filename: str, source: str) -> tuple[tuple[str, types.CodeType], ...]:
    tree = ast.parse(source)
    _mark_functions(tree)
    tree = _Insert().visit(tree)
    ast.fix_missing_locations(tree)
    code = compile(tree, filename, "exec")
    found: dict[str, types.CodeType] = {}

    def collect(c: types.CodeType) -> None:
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                found.setdefault(const.co_qualname, const)
                collect(const)

    collect(code)
    return tuple(found.items())


def _functions(module: types.ModuleType) -> Iterator[types.FunctionType]:
    seen: set[int] = set()

    def from_obj(obj: Any) -> Iterator[types.FunctionType]:
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    yield from from_obj(f)
            return
        own = isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__
        if own and id(obj) not in seen:
            seen.add(id(obj))
            yield obj

    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == module.__name__:
            for attr in list(vars(value).values()):
                yield from from_obj(attr)
        else:
            yield from from_obj(value)


@contextmanager
def lines(*modules: types.ModuleType, sources: dict[str, str] | None = None) -> Iterator[int]:
    """Every statement of every function in `modules` becomes a scheduling point.

    Yields the number of functions instrumented; restores the original code on exit.
    """
    saved: list[tuple[types.FunctionType, types.CodeType]] = []
    hooks: list[types.ModuleType] = []
    try:
        for module in modules:
            code = instrumented_code(module, (sources or {}).get(module.__name__))
            module.__dict__[LINE_HOOK] = _line_point
            hooks.append(module)
            for fn in _functions(module):
                new = code.get(fn.__code__.co_qualname)
                if new is not None and new.co_freevars == fn.__code__.co_freevars:
                    saved.append((fn, fn.__code__))
                    fn.__code__ = new
        yield len(saved)
    finally:
        for fn, old in saved:
            fn.__code__ = old
        for module in hooks:
            module.__dict__.pop(LINE_HOOK, None)
