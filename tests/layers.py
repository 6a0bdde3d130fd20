#!/usr/bin/env python3
"""tests/layers.py: the build's layering, checked. filters/ includes nothing
from daemon/; a daemon/ folder includes only filters/ and the folders before it
in daemon/meson.build's `daemon_layers` list. Prints every upward include as
file:line and exits 1 when there is one."""
import os
import re
import sys

root = os.environ.get("KEEL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = open(os.path.join(root, "daemon", "meson.build")).read()
layers = re.search(r"daemon_layers = \[([^\]]*)\]", build).group(1)
order = [s.strip().strip("'") for s in layers.split(",")]
rank = {name: i for i, name in enumerate(order)}
include = re.compile(r'#include "(daemon|filters)/(?:([a-z]+)/)?[^"]+"')

def allowed(folder, target_top, target_layer):
    if folder == "filters":
        return target_top == "filters"
    if target_top == "filters":
        return True
    if folder is None:            # daemon/main.c sits on top of everything
        return True
    return target_layer in rank and rank[target_layer] <= rank[folder]

problems, files = [], 0
for top in ("filters", "daemon"):
    for dirpath, _, names in os.walk(os.path.join(root, top)):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            parts = rel.split(os.sep)
            folder = "filters" if top == "filters" else (parts[1] if len(parts) > 2 else None)
            if top == "daemon" and folder is not None and folder not in rank:
                problems.append(f"{rel}: folder '{folder}' is not in daemon_layers")
                continue
            files += 1
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                m = include.match(line)
                if m and not allowed(folder, m.group(1), m.group(2)):
                    problems.append(f"{rel}:{n}: upward include {line.strip()}")

for p in problems:
    print(p)
print(f"layers: {files} files, {len(problems)} upward includes ({' → '.join(order)})")
sys.exit(1 if problems else 0)
