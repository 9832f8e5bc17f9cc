"""Obvious, slow reference for the adder & search tree (pure Python, one query at a time)."""

from bisect import bisect_left

from rtnerf.params.adder_search_tree import Op


def rank(bitmap: int, j: int, leaves: int) -> tuple[int, int]:
    bits = [(bitmap >> i) & 1 for i in range(leaves)]
    return (bits[j] if j < leaves else 0), sum(bits[:j])


def select(bitmap: int, k: int, leaves: int) -> tuple[int, int]:
    ones = [i for i in range(leaves) if (bitmap >> i) & 1]
    return (1, ones[k]) if k < len(ones) else (0, len(ones))


def search(coords: list[int], count: int, j: int) -> tuple[int, int]:
    valid = list(coords[:count])
    assert valid == sorted(set(valid)), "naive search needs sorted, duplicate-free coordinates"
    return int(j in valid), bisect_left(valid, j)


def ref_query(op: int, word, key: int, count: int, leaves: int) -> tuple[int, int]:
    """``word``: bitmap int or list of bits (RANK/SELECT), coordinates (SEARCH)."""
    if op == Op.SEARCH:
        return search(list(word), count, key)
    if not isinstance(word, int):
        word = sum(int(b) << i for i, b in enumerate(word))
    return (rank if op == Op.RANK else select)(word, key, leaves)
