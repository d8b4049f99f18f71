#!/usr/bin/env python3
"""Bytes per (series, minute) cell of a store, by file kind.

Reads the cell count from `trendlog inspect --json` and the sizes of the
store's files, and prints the whole and each kind's share: segments and the
used part of the active log (with the manifest), `tags.dict`, `tags.idx`, and
`tags.series` (labelled stores of format version 5). The active log's
preallocated, unused bytes are left out, as the comparison harness does.

    python3 benches/store_bytes.py target/release/trendlog STORE
"""
import json
import os
import subprocess
import sys


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, store = sys.argv[1:]
    info = json.loads(
        subprocess.run(
            [binary, "--db", store, "--json", "inspect"], check=True, capture_output=True
        ).stdout
    )
    cells = info["cells"]
    size = lambda n: os.path.getsize(os.path.join(store, n)) if os.path.exists(os.path.join(store, n)) else 0
    names = os.listdir(store)
    log_used = sum(
        f.get("bytes", 0) for f in info.get("files", info.get("segments", [])) if f.get("resolution") == "log"
    )
    segments = sum(size(n) for n in names if n.startswith("seg-")) + log_used + size("MANIFEST")
    parts = {
        "segments, log, manifest": segments,
        "tags.dict": size("tags.dict"),
        "tags.idx": size("tags.idx"),
        "tags.series": size("tags.series"),
    }
    total = sum(parts.values())
    detail = ", ".join(f"{k} {v / cells:.2f}" for k, v in parts.items())
    print(f"{cells:,} cells, {info.get('series', info.get('tags', 0)):,} series")
    print(f"{total:,} bytes, {total / cells:.2f} bytes/cell ({detail})")


if __name__ == "__main__":
    main()
