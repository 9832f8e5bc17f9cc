"""Naive lookup stage of the sparse-embedding datapath: the reference for the numba model.

Written from the stated behaviour (``rtnerf.models.perf.nerf.datapath_frame``) with Python
sets and loops, reading the rows' positions straight from each texel image's directory (not
from the model's bank map).
"""


def _order(n, c, tile):
    """Row of each class texel ``y * W + x`` within a group's block, by sorting Python tuples."""
    w, h = (n - (c & 1) + 1) // 2, (n - (c >> 1) + 1) // 2
    cells = [(y, x) for y in range(h) for x in range(w)]
    if tile is not None:
        cells.sort(key=lambda yx: (yx[0] // tile, yx[1] // tile, yx[0] % tile, yx[1] % tile))
    return {y * w + x: i for i, (y, x) in enumerate(cells)}


def _positions(store, bank_width):
    """Per (table, class): per row, (directory bank word, payload bank words, DRAM bursts)."""
    out = {}
    dram = 0
    for c in range(4):
        dir_base = pay_base = 0
        for t, ims in enumerate(store.images):
            im = ims[c]
            lay = im.layout
            ww = lay.word_width
            per = bank_width // ww
            burst = im.params.burst_bytes
            formats, nnz, offsets = im.directory()
            stride = all(int(f) == 1 for f in formats)  # all DENSE: no directory anywhere
            skip = lay.payload_base * ww // 8 if stride else 0
            rows = []
            for r in range(lay.rows):
                vw, cw = lay.value_width, lay.coord_width
                bits = {0: 0, 1: lay.columns * vw, 2: lay.columns + nnz[r] * vw,
                        3: nnz[r] * (cw + vw)}[int(formats[r])]  # fmt: skip
                words = -(-bits // ww)
                dword = None if stride else dir_base + (r * lay.entry_width // ww) // per
                first = int(offsets[r]) - lay.payload_base
                pwords = {pay_base + (first + k) // per for k in range(words)}
                bursts = set() if stride else {(dram + r * lay.entry_width // 8) // burst}
                for k in range(words):
                    bursts.add((dram - skip + (int(offsets[r]) + k) * ww // 8) // burst)
                rows.append((dword, pwords, bursts))
            out[t, c] = rows
            if not stride:
                dir_base += -(-lay.payload_base // per)
            pay_base += -(-(im.n_words - lay.payload_base) // per)
            dram += -(-(im.nbytes - skip) // burst) * burst
    return out


def schedule(wanted, banks):
    """Cycles of the lanes' greedy reads of one array: ``wanted[l]`` the words of lane ``l``.

    Each cycle the lanes in order take their lowest wanted word whose bank is free this cycle
    or reads that same word.
    """
    left = [list(w) for w in wanted]
    cycles = 0
    while any(left):
        reading = {}
        for words in left:
            for w in words:
                if reading.setdefault(w % banks, w) == w:
                    words.remove(w)
                    break
        cycles += 1
    return cycles


def lookup(cells, appearance, store, banks, bank_width, lanes, visit=None, capacity=None):
    """Counters of the lookup stage: cycles, conflict cycles, quads, groups, DRAM bytes.

    ``capacity``: a retaining buffer of that many bursts (LRU by visit, see
    ``lookup_stage``); ``None``: each visit loads all its bursts.
    """
    pos = _positions(store, bank_width)
    kpc = banks // 4
    n = store.resolution
    orders = [_order(n, c, store.tile) for c in range(4)]
    half = len(store.images) // 2
    quads = []  # (visit, [(t, c, row)] * 4)
    for s in range(len(cells)):
        for kind in (0, 1) if appearance[s] else (0,):
            for m in range(3):
                t = kind * half + m
                i0, i1 = (int(x) for x in cells[s][m])
                for g in range(store.groups[t]):
                    rows = []
                    for x, y in ((i0, i1), (i0 + 1, i1), (i0, i1 + 1), (i0 + 1, i1 + 1)):
                        c = 2 * (y % 2) + x % 2
                        w = (n - (c & 1) + 1) // 2
                        h = (n - (c >> 1) + 1) // 2
                        rows.append((t, c, g * w * h + orders[c][(y // 2) * w + x // 2]))
                    quads.append((-1 if visit is None else int(visit[s]), rows))
    # Per group: (visit, directory cycles D, payload cycles P, widest row).
    done = []
    i = 0
    while i < len(quads):
        # A group: up to `lanes` quads of one visit.
        j = i
        while j < len(quads) and j - i < lanes and quads[j][0] == quads[i][0]:
            j += 1
        wide = 0
        d_cyc = p_cyc = 0
        for c in range(4):
            dir_want, pay_want = [], []
            for _, rows in quads[i:j]:
                ((t, cc, r),) = [x for x in rows if x[1] == c]
                dword, pwords, _ = pos[t, cc][r]
                wide = max(wide, len(pwords))
                dir_want.append([] if dword is None else [dword])
                pay_want.append(sorted(pwords))
            d_cyc = max(d_cyc, schedule(dir_want, kpc))
            p_cyc = max(p_cyc, schedule(pay_want, kpc))
        done.append((quads[i][0], d_cyc, p_cyc, wide))
        i = j
    # Step k: group k's directory beside group k - 2's payload.
    cycles = conflicts = 0
    for k in range(len(done) + 2 if done else 0):
        d_cyc = done[k][1] if k < len(done) else 0
        p_cyc, wide = (done[k - 2][2], done[k - 2][3]) if k >= 2 else (0, 0)
        step = max(1, d_cyc, p_cyc)
        cycles += step
        conflicts += step - max(1, wide)
    groups = len(done)
    dram = 0
    if visit is not None:
        seen = {}
        for v, rows in quads:
            for t, c, r in rows:
                seen.setdefault(v, set()).update(pos[t, c][r][2])
        burst = store.images[0][0].params.burst_bytes
        dram = burst * sum(len(x) for x in loads(seen, capacity).values())
    return {"cycles": cycles, "conflicts": conflicts, "quads": len(quads), "groups": groups,
            "dram_bytes": dram}  # fmt: skip


def loads(seen, capacity=None):
    """Bursts each visit loads: ``seen[v]`` the bursts visit ``v`` reads.

    ``capacity`` ``None``: all of them. Otherwise those not resident; after each visit, while
    more than ``capacity`` are resident, the one last read earliest goes (ties: lower burst),
    never one read by this visit or the one before.
    """
    if capacity is None:
        return {v: set(b) for v, b in seen.items()}
    last = {}  # resident burst -> the last visit that read it
    out = {}
    for v in sorted(seen):
        out[v] = {b for b in seen[v] if b not in last}
        last.update(dict.fromkeys(seen[v], v))
        old = sorted((u, b) for b, u in last.items() if u <= v - 2)
        excess = len(last) - capacity
        if excess > len(old):
            raise ValueError("capacity too small")
        for _, b in old[: max(excess, 0)]:
            del last[b]
    return out
