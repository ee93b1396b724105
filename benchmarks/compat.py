"""The few names the benchmark takes from ``vqcodec``, wherever the imported release keeps them: today's package
layout (``vqcodec.coding``, ``vqcodec.train``, ``vqcodec.io``), or the flat one of release 0.6 and before
(``vqcodec.codec``, ``vqcodec.data``, ``vqcodec.fsutil``), so that an older release put first on PYTHONPATH is
measured by this benchmark (benchmarks/README.md)."""
from __future__ import annotations

from pathlib import Path

import vqcodec

# decided by the imported package's own folders: with the editable install a name missing from an older
# package would otherwise resolve to the working tree's module
if (Path(vqcodec.__file__).parent / "coding").is_dir():
    import vqcodec.coding.encoder as encoder_module
    from vqcodec.coding.decoder import decode_bytes
    from vqcodec.coding.encoder import encode_frames
    from vqcodec.io.files import sha256_file
    from vqcodec.settings import PRIOR_CHOICES
    from vqcodec.train.data import ClipSpec, VideoClipDataset, build_dataset, list_sources
else:                                   # release 0.6 and before (one flat package)
    import vqcodec.codec as encoder_module
    from vqcodec.codec import PRIOR_CHOICES, decode_bytes, encode_frames
    from vqcodec.data import ClipSpec, VideoClipDataset, build_dataset, list_sources
    from vqcodec.fsutil import sha256_file

__all__ = ["encoder_module", "encode_frames", "decode_bytes", "sha256_file", "PRIOR_CHOICES", "ClipSpec",
           "VideoClipDataset", "build_dataset", "list_sources"]
