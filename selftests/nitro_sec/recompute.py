#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Recomputes the security chip's measurements from userspace.

Reads `nitroctl firmware show --json` on stdin and hashes, independently of
the kernel module, what each component names: /sys/firmware/acpi/tables/X
for acpi/X, /sys/firmware/dmi/tables/X for smbios/X, and the legacy BIOS ROM
(physical 0xF0000, 64 KiB) through /dev/mem for bios-rom, then replays the
extend registers. Prints one line per mismatch and exits 1 if there is any,
else prints what it checked.

With --allowlist, reads nothing from the kernel module: prints an allowlist
(`sha384sum` lines, "DIGEST  COMPONENT") of what userspace sees, the
known-good list a verifier would compute on its own.
"""
import hashlib
import json
import os
import sys

ROM_BASE, ROM_LEN = 0xF0000, 0x10000


def read(component):
    if component == "bios-rom":
        with open("/dev/mem", "rb") as f:
            f.seek(ROM_BASE)
            return f.read(ROM_LEN)
    kind, name = component.split("/", 1)
    base = {"acpi": ACPI, "smbios": DMI}[kind]
    with open(os.path.join(base, name), "rb") as f:
        return f.read()


ACPI, DMI = "/sys/firmware/acpi/tables", "/sys/firmware/dmi/tables"


def components():
    """Every component userspace can see, named as the chip names them."""
    names = ["bios-rom"]
    for kind, base in (("acpi", ACPI), ("smbios", DMI)):
        names += [f"{kind}/{n}" for n in sorted(os.listdir(base))
                  if os.path.isfile(os.path.join(base, n))]
    return names


def allowlist():
    for c in components():
        print(f"{hashlib.sha384(read(c)).hexdigest()}  {c}")
    return 0


def main():
    if sys.argv[1:] == ["--allowlist"]:
        return allowlist()
    fw = json.load(sys.stdin)
    bad = []
    regs = [bytes(48)] * len(fw["registers"])
    for m in fw["log"]:
        data = read(m["component"])
        digest = hashlib.sha384(data).digest()
        if digest.hex() != m["sha384"] or len(data) != m["size"]:
            bad.append(f"{m['component']}: kernel {m['sha384'][:16]}.. ({m['size']} B), "
                       f"userspace {digest.hex()[:16]}.. ({len(data)} B)")
        r = m["register"]
        regs[r] = hashlib.sha384(regs[r] + digest).digest()
    for i, r in enumerate(regs):
        if r.hex() != fw["registers"][i]:
            bad.append(f"register {i}: kernel {fw['registers'][i][:16]}.., replayed {r.hex()[:16]}..")
    # every ACPI and SMBIOS table userspace sees must be in the log
    logged = {m["component"] for m in fw["log"]}
    for c in components():
        if c not in logged:
            bad.append(f"{c}: seen from userspace but not measured")
    for b in bad:
        print(b)
    if not bad:
        print(f"{len(fw['log'])} components and {len(regs)} registers match")
    return 1 if bad else 0


sys.exit(main())
