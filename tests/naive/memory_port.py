"""Naive burst splitting: walk the request word by word."""


def ref_bursts(
    addr: int, length: int, max_burst: int, boundary_words: int
) -> list[tuple[int, int]]:
    """Start a new burst at the first word, at each multiple of ``max_burst`` and of the
    boundary."""
    out: list[list[int]] = []
    for a in range(addr, addr + length):
        if not out or a % max_burst == 0 or a % boundary_words == 0:
            out.append([a, 0])
        out[-1][1] += 1
    return [(a, n) for a, n in out]
