#!/usr/bin/env python3
"""Parses every Julia file with a real Julia grammar and fails on any syntax error.

Julia itself is not installable everywhere RadX is built, so CI checks the Julia package
with tree-sitter's Julia grammar (the PyPI packages `tree-sitter` and `tree-sitter-julia`).
The script installs them itself, pinned, into target/julia-syntax/ (ignored by git) the
first time, and reuses them afterwards.

A file fails when its parse tree has an ERROR node or a MISSING node (a token the
grammar had to invent, such as a missing `end`). Each problem is printed as
FILE:LINE:COL with the offending source line.

    python3 deps/check_julia_syntax.py                 # every .jl file under julia/
    python3 deps/check_julia_syntax.py PATH...         # files or directories
    python3 deps/check_julia_syntax.py --self-test     # proves a broken file is caught
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "target", "julia-syntax")
PINS = ["tree-sitter==0.26.1", "tree-sitter-julia==0.23.1"]
STAMP = os.path.join(TOOLS, ".installed-" + "-".join(p.replace("==", "_") for p in PINS))


def ensure_tools():
    """Installs the pinned grammar into TOOLS unless it is there already."""
    if not os.path.exists(STAMP):
        os.makedirs(TOOLS, exist_ok=True)
        print(f"check_julia_syntax: installing {' '.join(PINS)} into {os.path.relpath(TOOLS, ROOT)}", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--upgrade", "--target", TOOLS] + PINS
        r = subprocess.run(cmd)
        if r.returncode != 0:
            sys.exit(f"check_julia_syntax: could not install {' '.join(PINS)} (pip exit {r.returncode})")
        open(STAMP, "w").close()
    sys.path.insert(0, TOOLS)
    try:
        import tree_sitter
        import tree_sitter_julia
    except ImportError as e:
        sys.exit(f"check_julia_syntax: the grammar in {TOOLS} does not load: {e}; delete that directory and retry")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_julia.language()))


def problems(parser, source):
    """(line, column, kind, node type) of every ERROR and MISSING node."""
    tree = parser.parse(source)
    out = []
    if not tree.root_node.has_error:
        return out
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            out.append((node.start_point[0] + 1, node.start_point[1] + 1, "MISSING", node.type))
        elif node.type == "ERROR":
            out.append((node.start_point[0] + 1, node.start_point[1] + 1, "ERROR", node.type))
        if node.has_error:
            stack.extend(reversed(node.children))
    return sorted(set(out))


def julia_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        if not os.path.isdir(p):
            sys.exit(f"check_julia_syntax: no such file or directory: {p}")
        for d, dirs, files in os.walk(p):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for f in sorted(files):
                if f.endswith(".jl"):
                    yield os.path.join(d, f)


def check(parser, paths):
    """Returns the number of files with problems; prints each problem."""
    bad = n = 0
    for path in julia_files(paths):
        n += 1
        with open(path, "rb") as fh:
            source = fh.read()
        found = problems(parser, source)
        if not found:
            continue
        bad += 1
        lines = source.decode("utf-8", "replace").splitlines()
        for line, col, kind, _ in found:
            text = lines[line - 1] if line - 1 < len(lines) else ""
            what = "syntax error" if kind == "ERROR" else "missing token"
            print(f"{os.path.relpath(path)}:{line}:{col}: {what}\n    {text.rstrip()}\n    {' ' * (col - 1)}^")
    if n == 0:
        sys.exit("check_julia_syntax: no .jl files found")
    print(f"check_julia_syntax: {n} file(s) parsed, {bad} with syntax errors")
    return bad


def self_test(parser):
    """The checker must pass a valid file and catch an invalid one."""
    good = b"module M\nf(x) = x^2\nfunction g(y; k=1)\n    return [y for _ in 1:k]\nend\nend\n"
    broken = b"function g(y)\n    if y > 0\n        return (y + 1\nend\n"
    with tempfile.TemporaryDirectory() as d:
        ok_path, bad_path = os.path.join(d, "good.jl"), os.path.join(d, "broken.jl")
        open(ok_path, "wb").write(good)
        open(bad_path, "wb").write(broken)
        if check(parser, [ok_path]) != 0:
            sys.exit("check_julia_syntax: self-test failed: a valid file was rejected")
        if check(parser, [bad_path]) != 1:
            sys.exit("check_julia_syntax: self-test failed: a broken file was accepted")
    print("check_julia_syntax: self-test passed (valid file accepted, broken file rejected)")


def main(argv):
    parser = ensure_tools()
    if argv and argv[0] == "--self-test":
        self_test(parser)
        argv = argv[1:]
        if not argv:
            return 0
    paths = argv or [os.path.join(ROOT, "julia")]
    return 1 if check(parser, paths) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
