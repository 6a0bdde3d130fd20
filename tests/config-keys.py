#!/usr/bin/env python3
"""tests/config-keys.py: every key in daemon/base/config.c's key table is
documented in keel.conf(5) (daemon/base/keel.conf.5) and in
rules/keel.conf.example. Prints each missing key and exits 1 if any."""
import os
import re
import sys

root = os.environ.get("KEEL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
source = open(os.path.join(root, "daemon", "base", "config.c")).read()
table = source[source.index("config_keys[] = {"):]
table = table[:table.index("};")]
keys = sorted(set(re.findall(r'\b[A-Z][A-Z_]*\(\s*"([a-z_]+)"', table)
                  + re.findall(r'\{\s*SECTION_[A-Z]+\s*,\s*"([a-z_]+)"', table)))
man = open(os.path.join(root, "daemon", "base", "keel.conf.5")).read()
example = open(os.path.join(root, "rules", "keel.conf.example")).read()
missing = []
for key in keys:
    if not re.search(r"\\fB%s\b|^\.B %s\b" % (key, key), man, re.M):
        missing.append(f"keel.conf.5 does not document '{key}'")
    if not re.search(r"^#?\s*%s\s*=" % key, example, re.M):
        missing.append(f"keel.conf.example does not show '{key}'")
for m in missing:
    print(m)
print(f"config keys: {len(keys)} in the table, {len(missing)} undocumented")
sys.exit(1 if missing or not keys else 0)
