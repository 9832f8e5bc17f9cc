"""Obvious reference for the sparse search unit: list membership and counting, per query."""


def ref_row(coords, queries):
    c = [int(x) for x in coords]
    return [(int(int(q) in c), sum(x < int(q) for x in c)) for q in queries]
