"""A clip's last GOP is padded to the GOP's length; no decoder shows the padding, so the encoder spends
nothing on a slice wholly of it (session 23). With tiny_linear.pt at its top quality and make_golden_bends.py's
juddering pan, as test_motion_bends.py."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.coding.gop_decisions import decide_gop
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_golden_bends import judder_steps, path_video  # noqa: E402
from test_motion_bends import _encoded  # noqa: E402

pytestmark = pytest.mark.usefixtures("padded_gops")   # files of before 13.0: pinned bytes and versions


@pytest.fixture(scope="module")
def lmodel():
    return load_model(GOLDEN / "tiny_linear.pt")


def test_slices_wholly_of_padding_repeat_the_frame_before_and_cost_only_their_flags(lmodel):
    """The last GOP of a clip shorter than a GOP is padded; no decoder shows the padding, so a slice wholly of
    it is every block predicted, vector 0, no residual, no bend (it repeats the frame before), whatever the
    padding's pixels; the frames shown are the encoder's reconstruction and the same as with other padding."""
    frames = path_video(judder_steps(21))                    # one GOP of 32 frames, 11 of them padding
    data, seen = _encoded(lmodel, frames)
    got = list(read_gop_codes(VqvReader(io.BytesIO(data)), lmodel))
    bt = lmodel.cfg.bottom_factor[0]
    m = got[-1].codes.motion
    real = -(-got[-1].frames // bt)                          # slices holding a frame of the clip
    assert 0 < real < len(m.flags)
    assert m.flags[real:].all() and not m.vectors[real:].any() and not m.residual[real:].any()
    assert not m.bends[real:].any()
    assert not m.flags[:real].all() or m.vectors[:real].any()     # the clip's own slices were searched
    np.testing.assert_array_equal(decode_bytes(data, model=lmodel), seen)
    # a decision wholly of padding is the frame before repeated, whatever the padding's pixels
    gop = np.concatenate([frames, np.zeros((32 - len(frames), *frames.shape[1:]), np.uint8)])
    recon = np.concatenate([frames, np.repeat(frames[-1:], 32 - len(frames), 0)])
    rates = np.full(m.flags.shape, 50.0)
    field, final = decide_gop(gop, recon, None, rates, 30.0, 2, tuple(lmodel.cfg.bottom_factor), frames=len(frames))
    assert field.flags[real:].all() and not field.vectors[real:].any()
    assert (final[real * bt:] == final[real * bt - 1]).all()
    assert not (final[real * bt:] == 0).all()                 # (not the padding's own pixels)
