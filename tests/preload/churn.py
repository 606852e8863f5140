#!/usr/bin/env python3
"""Allocation churn through CPython's allocator (large objects go to malloc):
bytearrays grown with +=, large lists built and resized, and bytes objects of
128 KiB to 4 MiB made, sliced, joined and dropped. Prints a checksum of
everything it produced, which must be the same with and without the shim."""
import hashlib
import random

rng = random.Random(2024)
h = hashlib.sha256()

# bytearrays grown with += (realloc over and over, past the threshold).
for round_ in range(6):
    ba = bytearray()
    piece = bytes(rng.randrange(256) for _ in range(4096))
    target = (8 + round_ * 6) << 20
    while len(ba) < target:
        ba += piece[: rng.randrange(1, 4096)]
        if len(ba) % 7 == 0:
            ba[len(ba) // 2] ^= 0x5A
    h.update(ba[:: 4099])
    h.update(len(ba).to_bytes(8, "little"))
    # Shrink it back below the threshold and grow it again.
    del ba[64 << 10 :]
    ba += piece * 64
    h.update(ba)

# Large lists: the item array is one large block.
for n in (200_000, 1_000_000, 3_000_000):
    lst = list(range(n))
    lst.extend(range(n // 2))
    lst.reverse()
    lst.sort(key=lambda x: (x * 2654435761) & 0xFFFF)
    h.update(repr(lst[:: max(1, n // 1000)]).encode())
    del lst[n // 3 :]
    h.update(str(sum(lst)).encode())

# bytes churn: 128 KiB .. 4 MiB objects, some kept, most dropped.
keep = []
for i in range(600):
    size = rng.randrange(128 << 10, 4 << 20)
    b = rng.randbytes(64) * (size // 64)
    if i % 5 == 0:
        b = b.replace(b[:8], b"ABCDEFGH")
    if i % 3 == 0:
        keep.append(b)
    if len(keep) > 24:
        keep.pop(rng.randrange(len(keep)))
    h.update(hashlib.sha256(b).digest())
joined = b"".join(keep)
h.update(hashlib.sha256(joined).digest())
h.update(len(joined).to_bytes(8, "little"))

print(h.hexdigest())
