#!/usr/bin/env python3
"""What a labelled store's bytes per cell would be with coded series keys.

Reads a labelled store (its `tags.dict` must be version 4, as this build
writes it) through `trendlog inspect --json` and the dictionary's bytes, and
prints today's bytes per (series, minute) cell beside a projection of the
layout issue 14 needs: each tag's text once, each series as a tag reference
plus one small number per label value, and an index of tags only; and
the same with only series taking ids, as fixed-width records in a file of
their own (`series_table`). Only sizes are computed; nothing is written.

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
    table = series_table(store, data)
    print(f"{cells:,} cells, {info['series']:,} series, {len(tags):,} tags")
    for name, parts in (("today", today), ("coded series", coded), ("series table", table)):
        total = sum(parts.values())
        detail = ", ".join(f"{k} {v / cells:.2f}" for k, v in parts.items())
        print(f"{name:>13}: {total:>11,} bytes, {total / cells:.2f} bytes/cell ({detail})")


def width(n: int) -> int:
    """Bytes of a fixed-width field holding numbers below `n`."""
    w = 1
    while n > 256**w:
        w += 1
    return w


def series_table(store: str, data: int) -> dict:
    """A third layout, where only series take ids: `tags.dict` holds each tag
    and each label value once (plain entries, numbered in their own space),
    a `series` file holds one fixed-width record per series id (the tag's
    number, then each value's number within its key, each field as wide as
    the largest number needs) in blocks of one write (8-byte header each),
    and the index holds the tags sorted, a sample every 16 tags and every 16
    series records, and page CRCs of both files. A tag's series are found by
    reading the records (5 bytes each here)."""
    tags, values, blocks, records = {}, {}, 0, []
    tag_bytes = value_bytes = 0
    for block in entries(open(os.path.join(store, "tags.dict"), "rb").read()):
        blocks += 1
        for key in block:
            tag, *vals = key.split(b"\x1f")
            if tag not in tags:
                tags[tag] = len(tags)
                tag_bytes += leb(len(tag) << 1) + len(tag)
            numbers = []
            for j, v in enumerate(vals):
                per_key = values.setdefault(j, {})
                if v not in per_key:
                    per_key[v] = len(per_key)
                    value_bytes += 1 + leb(len(v) << 1) + len(v)
                numbers.append(per_key[v])
            records.append(numbers)
    record = width(len(tags)) + sum(width(len(values[j])) for j in values)
    dict_bytes = 16 + 8 * blocks + tag_bytes + value_bytes
    series_bytes = 64 + 8 * blocks + record * len(records)
    pages = -(-(dict_bytes + series_bytes) // 4096)
    index = 64 + 4 * len(tags) + 4 * (-(-len(tags) // 16)) + 4 * (-(-len(records) // 16)) + 4 * pages
    return {"segments, log, manifest": data, "tags.dict": dict_bytes, "series": series_bytes, "tags.idx": index}


if __name__ == "__main__":
    main()
