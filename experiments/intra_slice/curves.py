"""The scripts' curve helpers: a curve's upper front and BD-rate over whatever range two curves share."""
import bjontegaard as bd
import numpy as np


def front(points):
    """(bytes, PSNR) points -> the upper front, rate ascending and PSNR rising."""
    out = []
    for b, q in sorted(points):
        if not out or q > out[-1][1]:
            out.append((b, q))
    return np.array(out, float)


def bd_rate(anchor, test):
    """BD-rate (%) of ``test`` against ``anchor`` (pchip, any overlap)."""
    a, t = front(anchor), front(test)
    return bd.bd_rate(a[:, 0], a[:, 1], t[:, 0], t[:, 1], method="pchip", require_matching_points=False, min_overlap=0)
