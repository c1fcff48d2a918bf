#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The mutants of tools/mutants/list: reading the list, applying one.

  apply.py plan LIST [NAME...]     one line per mutant (all, or those named):
                                   NAME<TAB>FILE<TAB>TESTS (space-separated)
  apply.py check LIST TREE [NAME...]
                                   every hunk of every mutant (or of those
                                   named) occurs exactly once in its file of
                                   TREE; nothing is written
  apply.py apply LIST NAME TREE    applies mutant NAME to its file in TREE

The list's format is described at its top. Exits 1, saying which, if a mutant
is malformed or a hunk's text does not occur exactly once.
"""
import os
import sys


class Mutant:
    def __init__(self, name, line):
        self.name, self.line = name, line
        self.file = self.why = None
        self.tests = []
        self.hunks = []  # [(old lines, new lines)]

    def check(self):
        if not self.file or not self.tests or not self.hunks:
            raise SystemExit(f"list line {self.line}: mutant {self.name} needs a file, tests "
                             "and at least one '-' hunk")
        for old, _ in self.hunks:
            if not old:
                raise SystemExit(f"list line {self.line}: mutant {self.name}: a '+' hunk "
                                 "with no '-' text before it")


def parse(path):
    mutants, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if cur is not None and (line[:2] in ("- ", "+ ") or line in ("-", "+")):
                text = line[2:]
                if line[0] == "-":
                    if not cur.hunks or cur.hunks[-1][1]:
                        cur.hunks.append(([], []))
                    cur.hunks[-1][0].append(text)
                else:
                    if not cur.hunks:
                        cur.hunks.append(([], []))
                    cur.hunks[-1][1].append(text)
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, _, val = line.partition(" ")
            if key == "mutant":
                if cur:
                    cur.check()
                if any(m.name == val for m in mutants):
                    raise SystemExit(f"list line {n}: mutant {val} twice")
                cur = Mutant(val, n)
                mutants.append(cur)
            elif cur and key == "file":
                cur.file = val
            elif cur and key == "tests":
                cur.tests = val.split()
            elif cur and key == "why":
                cur.why = val
            else:
                raise SystemExit(f"list line {n}: unknown line: {line}")
    if cur:
        cur.check()
    return mutants


def select(mutants, names):
    if not names:
        return mutants
    known = {m.name: m for m in mutants}
    for n in names:
        if n not in known:
            raise SystemExit(f"no mutant {n} in the list")
    return [known[n] for n in names]


def mutated(m, tree):
    """The text of m's file in tree with m applied; exits if it does not apply."""
    path = os.path.join(tree, m.file)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SystemExit(f"mutant {m.name}: {m.file}: {e.strerror}")
    for i, (old, new) in enumerate(m.hunks, 1):
        o, r = "\n".join(old), "\n".join(new)
        count = text.count(o)
        if count != 1:
            raise SystemExit(f"mutant {m.name}: hunk {i} occurs {count} times in {m.file} "
                             f"(must be once): {old[0].strip()!r}")
        text = text.replace(o, r)
    return text


def main(argv):
    if len(argv) >= 3 and argv[1] == "plan":
        for m in select(parse(argv[2]), argv[3:]):
            print(f"{m.name}\t{m.file}\t{' '.join(m.tests)}")
    elif len(argv) >= 4 and argv[1] == "check":
        for m in select(parse(argv[2]), argv[4:]):
            mutated(m, argv[3])
    elif len(argv) == 5 and argv[1] == "apply":
        m = select(parse(argv[2]), [argv[3]])[0]
        text = mutated(m, argv[4])
        with open(os.path.join(argv[4], m.file), "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


sys.exit(main(sys.argv))
