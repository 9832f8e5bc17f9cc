"""Naive reference of the lookup unit's pooling: Python integers, straight off the tables."""


def ref_pool(params, tables, trace) -> list[list[int]]:
    """Pooled output of every bag, following the params' definition one step at a time."""
    f = params.weight_frac_bits

    def limit(x, width):
        hi, lo = (1 << (width - 1)) - 1, -(1 << (width - 1))
        if params.overflow == "saturate":
            return min(max(x, lo), hi)
        return (x - lo) % (1 << width) + lo

    out, acc, n = [], [0] * params.dim, 0
    for q in range(len(trace)):
        row = tables[int(trace.table[q])][int(trace.row[q])]
        element = trace.op[q] == 1
        if element:  # one value, into column 0, always weighted
            row = [row[int(trace.col[q])]] + [0] * (params.dim - 1)
        w = int(trace.weight[q]) if params.pooling == "weighted" or element else 1 << f
        acc = [limit(a + int(v) * w, params.acc_width) for a, v in zip(acc, row, strict=True)]
        n += 1
        if trace.last[q]:
            shift, scale = f, 1
            if params.pooling == "mean" and element:
                shift, scale = 2 * f, 1 << f
            elif params.pooling == "mean":
                shift, scale = 2 * f, ((1 << f) + n // 2) // n
            half = (1 << (shift - 1)) if params.rounding == "nearest" and shift else 0
            out.append([limit((a * scale + half) >> shift, params.out_width) for a in acc])
            acc, n = [0] * params.dim, 0
    return out
