#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The tree's own rules, checked (make lint runs this).

1. No hand-written `extern "C" {` block in drivers/ or selftests/: every
   prototype comes from bindgen (the *_generated.rs files).
2. No safe `extern "C" fn`: a callback from C is `unsafe extern "C" fn`
   with a `# Safety` section in its documentation.
3. Every `unsafe` block and `unsafe impl` has a `// SAFETY:` comment right
   above it (the comment block ending on the line before, or on the line,
   or above the first line of the statement the block ends).
4. The inventory in Documentation/architecture.rst (between the lines
   `.. inventory: unsafe` and `.. inventory: end`) lists exactly the Rust
   files that contain `unsafe`.
5. Each function of a C glue file (*_glue.c) is one statement.

Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bad = []


def rust_files():
    for base in ("drivers", "selftests"):
        for root, _, files in os.walk(os.path.join(top, base)):
            for f in sorted(files):
                if f.endswith(".rs") and not f.endswith("_generated.rs"):
                    yield os.path.join(root, f)


def rel(p):
    return os.path.relpath(p, top)


def strip_strings(line):
    return re.sub(r'"(\\.|[^"\\])*"', '""', line)


def check_rust(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    has_unsafe = False
    for i, raw in enumerate(lines):
        code = raw.split("//")[0]
        line = strip_strings(code)
        if re.search(r'\bextern\s+"C"\s*\{', code):
            bad.append(f'{rel(path)}:{i+1}: hand-written extern "C" block (use bindgen)')
        if re.search(r'\bextern\s+"C"\s+fn\b', code) and "unsafe" not in code.split("extern")[0]:
            bad.append(f'{rel(path)}:{i+1}: safe extern "C" fn (make it unsafe, with # Safety)')
        m = re.search(r'\bunsafe\s*(\{|impl\b)', line)
        if m:
            has_unsafe = True
            if "SAFETY" in raw:
                continue
            j = i - 1
            # A statement that starts on an earlier line (`let r =`).
            while j >= 0 and re.search(r"[=(]\s*$", lines[j].split("//")[0]):
                j -= 1
            ok = False
            # The comment block right above (attributes may sit between).
            while j >= 0 and (lines[j].strip().startswith("//") or lines[j].strip().startswith("#[")):
                if "SAFETY:" in lines[j]:
                    ok = True
                    break
                j -= 1
            if not ok:
                bad.append(f"{rel(path)}:{i+1}: unsafe without a // SAFETY: comment right above")
        if re.search(r'\bunsafe\s+(fn|extern)\b', line):
            has_unsafe = True
    return has_unsafe


def inventory():
    doc = os.path.join(top, "Documentation", "architecture.rst")
    text = open(doc, encoding="utf-8").read()
    m = re.search(r"^\.\. inventory: unsafe\n(.*?)^\.\. inventory: end", text, re.S | re.M)
    if not m:
        bad.append("Documentation/architecture.rst: no '.. inventory: unsafe' block")
        return None
    return set(re.findall(r"``([\w/.-]+\.rs)``", m.group(1)))


def check_glue(path):
    src = open(path, encoding="utf-8").read()
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    # Top-level function definitions: a line ending in ')' then '{' at column 0.
    for m in re.finditer(r"\n([^\n;{}#]*\))\s*\n\{\n(.*?)\n\}", src, re.S):
        body = m.group(2)
        statements = [s for s in body.split(";") if s.strip()]
        if len(statements) > 1 or re.search(r"\b(for|while|if|switch)\b", body):
            name = m.group(1).strip().split("(")[0].split()[-1].lstrip("*")
            bad.append(f"{rel(path)}: {name}: glue function with more than one statement")


unsafe_files = set()
for p in rust_files():
    if check_rust(p):
        unsafe_files.add(rel(p))
listed = inventory()
if listed is not None:
    for f in sorted(unsafe_files - listed):
        bad.append(f"{f}: has unsafe but is not in architecture.rst's inventory")
    for f in sorted(listed - unsafe_files):
        bad.append(f"{f}: in architecture.rst's unsafe inventory but has no unsafe")
for root, _, files in os.walk(os.path.join(top, "drivers")):
    for f in sorted(files):
        if f.endswith("_glue.c"):
            check_glue(os.path.join(root, f))

for b in bad:
    print(b)
sys.exit(1 if bad else 0)
