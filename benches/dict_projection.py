#!/usr/bin/env python3
"""What a labelled store's bytes per cell would be with coded series keys.

Reads a labelled store (its `tags.dict` must be version 4, as this build
writes it) through `trendlog inspect --json` and the dictionary's bytes, and
prints today's bytes per (series, minute) cell beside a projection of the
layout issue 14 needs: each tag's text once, each series as a tag reference
plus one small number per label value, and an index of tags only. Only
sizes are computed; nothing is written.

    python3 benches/dict_projection.py target/release/trendlog STORE
"""
import json
import os
import subprocess
import sys


def leb(n: int) -> int:
    """Bytes of `n` as LEB128."""
    c = 1
    while n >= 128:
        n >>= 7
        c += 1
    return c


def entries(d: bytes):
    """The keys of a version-4 dictionary, per block (format.md)."""
    pos, blocks = 16, []
    while pos + 8 <= len(d) and d[pos] == 0:
        ln = d[pos + 1] | d[pos + 2] << 8 | d[pos + 3] << 16
        if ln == 0:
            break
        body, i, keys = d[pos + 8 : pos + 8 + ln], 0, []
        while i < len(body):
            h = body[i]
            i += 1
            if h & 0x80:
                h = (h & 0x7F) | body[i] << 7
                i += 1
            keys.append(body[i : i + (h >> 1)])
            i += h >> 1
        blocks.append(keys)
        pos += 8 + ln
    return blocks


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
    size = lambda n: os.path.getsize(os.path.join(store, n))
    names = os.listdir(store)
    data = sum(size(n) for n in names if n.startswith(("seg-", "log-"))) + size("MANIFEST")
    today = {"segments, log, manifest": data, "tags.dict": size("tags.dict"), "tags.idx": size("tags.idx")}
    # Coded: in each write, the new tags' text (as today's plain entries),
    # then each series as a header byte, its tag's id (LEB128) and each
    # label value's number (LEB128 of number + 1, so never a 00 byte).
    tags, values, next_id = {}, {}, 0
    tag_bytes = series_bytes = headers = 0
    for block in entries(open(os.path.join(store, "tags.dict"), "rb").read()):
        headers += 8
        for key in block:
            tag, *vals = key.split(b"\x1f")
            if tag not in tags:
                tags[tag] = next_id
                next_id += 1
                tag_bytes += leb(len(tag) << 1) + len(tag)
        for key in block:
            tag, *vals = key.split(b"\x1f")
            numbers = [values.setdefault((j, v), len(values)) + 1 for j, v in enumerate(vals)]
            series_bytes += 1 + leb(tags[tag] + 1) + sum(leb(n) for n in numbers)
            next_id += 1
    # The index: today's layout (samples every 16 ids, page CRCs) with a
    # sorted table of the tags only; a tag's series are found by reading
    # the series entries.
    index = 64 + 4 * len(tags) + 4 * (-(-next_id // 16)) + 4 * (-(-(tag_bytes + series_bytes) // 4096))
    coded = {"segments, log, manifest": data, "tags.dict": 16 + headers + tag_bytes + series_bytes, "tags.idx": index}
    print(f"{cells:,} cells, {info['series']:,} series, {len(tags):,} tags")
    for name, parts in (("today", today), ("coded series", coded)):
        total = sum(parts.values())
        detail = ", ".join(f"{k} {v / cells:.2f}" for k, v in parts.items())
        print(f"{name:>13}: {total:>11,} bytes, {total / cells:.2f} bytes/cell ({detail})")


if __name__ == "__main__":
    main()
