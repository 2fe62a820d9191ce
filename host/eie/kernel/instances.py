"""Every hardware instance of a rendered kernel, read from its sources.

Vitis HLS makes one RTL instance of a function that is not inlined for each
call site (times the unroll factor of a loop around it), and one FIFO for
each ``hls::stream`` a DATAFLOW region declares. This module derives both
from the rendered sources, as synthesis would see them (``__SYNTHESIS__``
defined, the concurrent C-simulation's code left out), independently of
``eie.hardware.resources``, so that a test can check that the estimate
prices every instance (tests/kernel/test_instances.py).

It reads the kernel's own C++ subset, not C++ in general: functions are
defined at namespace or struct scope; ``#pragma HLS INLINE`` as a body's first
statement inlines it; a call is ``name(``, ``name<...>(`` or ``PE<P>::name(``;
an unrolled loop is ``for (int i = 0; i < BOUND; i++)`` whose body holds
``#pragma HLS UNROLL``; ``#pragma HLS ALLOCATION function instances=F
limit=L`` caps F's instances under the function that carries it. Anything
else that would change the count (an unresolvable unroll bound, an unknown
``#if``) raises ``ToolchainError`` instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from eie.errors import ToolchainError

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
_IDENT = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Fifo:
    """One ``hls::stream`` declaration: ``count`` FIFOs of ``width`` bits and ``depth`` words, per instance."""

    function: str
    name: str
    type: str
    count: int
    width: int
    depth: int


@dataclass
class Function:
    name: str  # qualified: "PE::run_layer", "broadcast"
    body: str
    inline: bool
    allocation: dict[str, int] = field(default_factory=dict)  # callee -> limit


@dataclass
class Instances:
    """What the sources instantiate: function -> instances, and the FIFOs with their instance counts."""

    functions: dict[str, int]
    fifos: list[tuple[Fifo, int]]
    # The same without the ALLOCATION limits (what synthesis builds if it ignores them).
    functions_unlimited: dict[str, int]
    fifos_unlimited: list[tuple[Fifo, int]]


def _preprocess(directory: Path, name: str, defined: set[str], seen: set[str]) -> str:
    """The file with local includes inlined (once each) and #if blocks resolved."""
    if name in seen:
        return ""
    seen.add(name)
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []  # (this branch active, some branch taken)

    def active() -> bool:
        return all(a for a, _ in stack)

    for line in (directory / name).read_text().splitlines():
        s = line.strip()
        if s.startswith("#"):
            d = s[1:].strip()
            word = d.split()[0] if d.split() else ""
            if word in ("ifdef", "ifndef"):
                m = d.split()[1]
                cond = (m in defined) == (word == "ifdef")
                stack.append((cond, cond))
                continue
            if word == "if":
                cond = _eval_if(d[2:], defined)
                stack.append((cond, cond))
                continue
            if word == "else":
                a, taken = stack.pop()
                stack.append((not taken, True))
                continue
            if word == "endif":
                stack.pop()
                continue
            if not active():
                continue
            if word == "define":
                defined.add(d.split()[1].split("(")[0])
                continue
            m = _INCLUDE.match(line)
            if m:
                if (directory / m.group(1)).exists():
                    out.append(_preprocess(directory, m.group(1), defined, seen))
                continue
            if word == "include":
                continue
            out.append(line)  # pragmas
            continue
        if active():
            out.append(line)
    if stack:
        raise ToolchainError(f"{name}: unbalanced #if")
    return "\n".join(out)


def _eval_if(expr: str, defined: set[str]) -> bool:
    e = re.sub(r"defined\s*\(\s*(\w+)\s*\)", lambda m: "True" if m.group(1) in defined else "False", expr)
    e = e.replace("||", " or ").replace("&&", " and ").replace("!", " not ")
    if set(_IDENT.findall(e)) - {"True", "False", "or", "and", "not"}:
        raise ToolchainError(f"#if {expr.strip()}: only defined(), !, && and || are understood")
    return bool(eval(e))  # noqa: S307 - a boolean of True/False literals only


def _strip(text: str) -> str:
    """Comments and string literals out; EIE_COUNT(...) (instrumentation) out."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    out, i = [], 0
    while True:
        j = text.find("EIE_COUNT(", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        depth, k = 0, j + len("EIE_COUNT")
        while True:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        i = k
    return "".join(out)


def _match_brace(text: str, i: int) -> int:
    """Index after the } that closes the { at i."""
    depth = 0
    for k in range(i, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k + 1
    raise ToolchainError("unbalanced braces")


def _function_name(header: str) -> str | None:
    """The declarator's name of a function definition header, or None if it is not one."""
    h = re.sub(r"^\s*template\s*<[^{;]*?>\s*(?=(struct|class|static|inline|void|int|bool|\w))", "", header)
    depth = 0
    for k, ch in enumerate(h):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            m = re.search(r"(\w+)\s*$", h[:k])
            return m.group(1) if m else None
    return None


def _functions(text: str) -> dict[str, Function]:
    funcs: dict[str, Function] = {}

    def scan(t: str, prefix: str) -> None:
        i, last = 0, 0
        while i < len(t):
            ch = t[i]
            if ch in ";}":
                last = i + 1
            elif ch == "{":
                end = _match_brace(t, i)
                header = t[last:i].strip()
                header_lines = [l for l in header.splitlines() if not l.strip().startswith("#")]
                header = " ".join(header_lines).strip()
                m = re.search(r"\b(namespace|struct|class)\b\s*(\w*)", header)
                if m and "(" not in header:
                    scan(t[i + 1 : end - 1], prefix if m.group(1) == "namespace" else prefix + m.group(2) + "::")
                elif "(" in header and "=" not in header.split("(")[0]:
                    name = _function_name(header)
                    if name:
                        body = t[i + 1 : end - 1]
                        inline = bool(re.match(r"\s*#pragma\s+HLS\s+INLINE\s*(\n|$)", body))
                        alloc = {
                            f: int(n)
                            for f, n in re.findall(
                                r"#pragma\s+HLS\s+ALLOCATION\s+function\s+instances=(\w+)\s+limit=(\d+)", body
                            )
                        }
                        funcs[prefix + name] = Function(prefix + name, body, inline, alloc)
                i = end
                last = end
                continue
            i += 1

    scan(text, "")
    return funcs


def _constants(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"const\s+(?:int|bool)\s+(\w+)\s*=\s*(-?\d+)\s*;", text)}


def _value(tok: str, vals: dict[str, int]) -> int:
    if tok.isdigit():
        return int(tok)
    if tok in vals:
        return vals[tok]
    raise ToolchainError(f"unrolled loop bound {tok!r} around a call is not a constant")


def _unroll_factor(body: str, pos: int, consts: dict[str, int], tparams: dict[str, int]) -> int:
    """Product of the trip counts of the unrolled for-loops around position pos of a function body."""
    vals = {**consts, **tparams}
    factor = 1
    for m in re.finditer(r"\bfor\s*\(([^;]*);([^;]*);[^)]*\)\s*\{", body[:pos]):
        start = m.end() - 1
        if _match_brace(body, start) <= pos:
            continue  # the loop ends before pos
        inner = body[start + 1 : _match_brace(body, start)]
        depth0 = inner.split("{")[0]
        if not re.search(r"#pragma\s+HLS\s+UNROLL\b", depth0):
            continue
        init = re.search(r"=\s*(\w+)", m.group(1))
        bound = re.search(r"<\s*(\w+)", m.group(2))
        if not (init and bound):
            raise ToolchainError(f"unrolled loop 'for ({m.group(1)};{m.group(2)};...)' is not 'i = A; i < B'")
        factor *= _value(bound.group(1), vals) - _value(init.group(1), vals)
    return factor


def _calls(funcs: dict[str, Function], consts: dict[str, int]) -> dict[str, list[tuple[str, int]]]:
    """For each function: (callee key, unroll factor) per call site. Keys carry template arguments that
    select an accumulator policy (``PE::accumulate<TernaryAdd>``)."""
    short: dict[str, list[str]] = {}
    for key in funcs:
        short.setdefault(key.split("::")[-1], []).append(key)
    pattern = re.compile(r"(?<![\w.>])(?:(\w+)\s*(?:<[^;(){}]*?>)?\s*::\s*)?(\w+)\s*(<[^;(){}]*?>)?\s*\(")
    out: dict[str, list[tuple[str, int]]] = {}
    for key, fn in funcs.items():
        sites: list[tuple[str, int]] = []
        for m in pattern.finditer(fn.body):
            qual, name, targs = m.group(1), m.group(2), m.group(3)
            if name not in short:
                continue
            cands = short[name]
            if qual and any(c.startswith(qual + "::") for c in funcs):
                cands = [c for c in cands if c.startswith(qual + "::")]  # a struct's member (PE<P>::)
            elif len(cands) > 1:
                own = key.rsplit("::", 1)[0] + "::" if "::" in key else ""
                cands = [c for c in cands if c.startswith(own)] or cands
            if len(cands) != 1:
                continue  # a member of a policy or an unrelated name (e.g. Acc::add)
            callee = cands[0]
            policy = re.sub(r"\s", "", targs or "")
            if policy and policy.strip("<>") in ("CodebookMul", "TernaryAdd"):
                callee += policy
            sites.append((callee, _unroll_factor(fn.body, m.start(), consts, {})))
        out[key] = sites
    return out


def _const_expr(expr: str, consts: dict[str, int]) -> int:
    for name in sorted(set(_IDENT.findall(expr)), key=len, reverse=True):
        if name not in consts:
            raise ToolchainError(f"{expr!r}: {name} is not a constant")
        expr = re.sub(rf"\b{name}\b", str(consts[name]), expr)
    if not re.fullmatch(r"[\d\s+*()-]+", expr):
        raise ToolchainError(f"{expr!r} is not a constant expression")
    return int(eval(expr))  # noqa: S307 - digits and + - * only


def _type_widths(text: str, consts: dict[str, int]) -> dict[str, int]:
    widths = {"bool": 1, "int": 32, "unsigned": 32}

    def width(t: str) -> int:
        t = t.strip()
        m = re.fullmatch(r"ap_u?int\s*<(.+)>", t)
        if m:
            expr = m.group(1)
            for name in sorted(set(_IDENT.findall(expr)), key=len, reverse=True):
                if name not in consts:
                    raise ToolchainError(f"width {expr!r}: {name} is not a constant")
                expr = re.sub(rf"\b{name}\b", str(consts[name]), expr)
            if not re.fullmatch(r"[\d\s+*()-]+", expr):
                raise ToolchainError(f"width {m.group(1)!r} is not a constant expression")
            return int(eval(expr))  # noqa: S307 - digits and + - * only
        if t in widths:
            return widths[t]
        raise ToolchainError(f"unknown type {t!r}")

    for m in re.finditer(r"typedef\s+(ap_u?int\s*<[^;]+>)\s+(\w+)\s*;", text):
        widths[m.group(2)] = width(m.group(1))
    for m in re.finditer(r"\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*;", text):
        total = 0
        try:
            for fld in m.group(2).split(";"):
                fld = fld.strip()
                if not fld:
                    continue
                fm = re.match(r"(.+?)\s+(\w+)\s*(?:\[([^\]]+)\])?$", fld)
                if not fm:
                    raise ToolchainError(f"struct {m.group(1)}: field {fld!r}")
                t, _, dim = fm.groups()
                total += width(t) * (_const_expr(dim, consts) if dim else 1)
        except ToolchainError:
            continue  # not a stream's type (e.g. 64-bit offsets of the loader): no width needed
        widths[m.group(1)] = total
    return widths


def _fifos(funcs: dict[str, Function], widths: dict[str, int], consts: dict[str, int]) -> list[Fifo]:
    out = []
    for key, fn in funcs.items():
        for m in re.finditer(r"hls::stream<\s*(\w+)\s*>\s+(\w+)\s*(?:\[\s*(\w+)\s*\])?\s*;", fn.body):
            t, name, count = m.groups()
            n = 1 if count is None else (int(count) if count.isdigit() else consts[count])
            dm = re.search(rf"#pragma\s+HLS\s+STREAM\s+variable={name}\s+depth=(\d+)", fn.body)
            depth = int(dm.group(1)) if dm else 2
            if t not in widths:
                raise ToolchainError(f"stream {name} of {key}: unknown type {t}")
            out.append(Fifo(key, name, t, n, widths[t], depth))
    return out


def derive(directory, top: str) -> Instances:
    """The instances of the kernel rendered in ``directory`` whose top function is ``top``."""
    directory = Path(directory)
    text = _strip(_preprocess(directory, "eie_top.cpp", {"__SYNTHESIS__"}, set()))
    funcs = _functions(text)
    if top not in funcs:
        raise ToolchainError(f"no top function {top!r} in {directory}/eie_top.cpp")
    consts = _constants(text)
    calls = _calls(funcs, consts)
    fifos = _fifos(funcs, _type_widths(text, consts), consts)

    def count(limited: bool) -> dict[str, int]:
        # Calls of a non-inlined function, with the inlined callees' calls folded in.
        def expand(key: str, stack=()) -> dict[str, int]:
            if key in stack:
                raise ToolchainError(f"recursion through {key}")
            got: dict[str, int] = {}
            for callee, k in calls[key]:
                if funcs[callee.split("<")[0]].inline:
                    for c, n in expand(callee.split("<")[0], stack + (key,)).items():
                        got[c] = got.get(c, 0) + n * k
                else:
                    got[callee] = got.get(callee, 0) + k
            if limited:
                for f, lim in funcs[key].allocation.items():
                    if f in got:
                        got[f] = min(got[f], lim)
            return got

        edges: dict[str, dict[str, int]] = {}
        todo = [top]
        while todo:
            key = todo.pop()
            if key in edges:
                continue
            edges[key] = expand(key.split("<")[0])
            todo.extend(edges[key])
        # Topological order (callers before callees), then instances = sum over callers.
        order: list[str] = []
        done: set[str] = set()

        def visit(key: str) -> None:
            if key in done:
                return
            done.add(key)
            for c in edges[key]:
                visit(c)
            order.append(key)

        visit(top)
        inst = {key: 0 for key in edges}
        inst[top] = 1
        for key in reversed(order):
            for callee, n in edges[key].items():
                inst[callee] += inst[key] * n
        return inst

    limited, unlimited = count(True), count(False)
    return Instances(
        limited,
        [(f, limited.get(f.function, 0)) for f in fifos],
        unlimited,
        [(f, unlimited.get(f.function, 0)) for f in fifos],
    )
