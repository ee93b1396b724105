"""Shared fixtures: tiny synthetic videos and a tiny model, all made here (nothing downloaded)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Every test, and every fixture it builds, runs on one torch thread whatever OMP_NUM_THREADS
    says: float sums (k-means, the tiny models' codes) then come out the same on every machine, so
    no assertion depends on the thread count. (Autouse runs before the session's other fixtures.)"""
    import torch
    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _float32_networks():
    """Encodes left at the default compute in float32, as on every CPU without bfloat16 instructions: the
    pinned bytes and versions of the suite are the float32 encoder's whatever this CPU has (on one with them
    the default is bfloat16, version 10.0; tests/test_network_float.py asks for it by name)."""
    from vqcodec import settings
    settings.DEFAULT_NETWORK_FLOAT = "float32"


@pytest.fixture(autouse=True)
def _restore_one_torch_thread():
    """A test that sets threads (`--threads`) must not change the floats of the tests after it."""
    yield
    import torch
    torch.set_num_threads(1)


def synthetic_video(t: int = 40, h: int = 48, w: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth moving pattern plus a moving square: uint8 (t, h, w, 3)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 6.28, 3)
    tt = np.arange(t)[:, None, None]
    yy = np.arange(h)[None, :, None]
    xx = np.arange(w)[None, None, :]
    chans = [np.sin(xx / (4 + c) + tt / 5 + phase[c]) * np.cos(yy / (6 + c) - tt / 9) for c in range(3)]
    v = np.stack(chans, -1) * 90 + 128
    for k in range(t):
        y0, x0 = (k * 2) % max(1, h - 8), (k * 3) % max(1, w - 8)
        v[k, y0:y0 + 8, x0:x0 + 8] = [250, 30, 60]
    return v.clip(0, 255).astype(np.uint8)


def pan_video(t: int = 48, h: int = 32, w: int = 32, dx: int = 1, dy: int = 0) -> np.ndarray:
    """A still, textured picture moving ``dx``, ``dy`` pixels per frame: uint8 (t, h, w, 3)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:h + abs(dy) * t + 8, 0:w + abs(dx) * t + 8]
    pic = np.stack([np.sin(xx / (3 + c)) * np.cos(yy / (5 - c)) for c in range(3)], -1) * 90 + 128
    pic = (pic + rng.normal(0, 4, pic.shape)).clip(0, 255).astype(np.uint8)
    oy, ox = 4 + (abs(dy) * t if dy < 0 else 0), 4 + (abs(dx) * t if dx < 0 else 0)
    return np.stack([pic[oy + dy * k:oy + dy * k + h, ox + dx * k:ox + dx * k + w] for k in range(t)])


def assert_same_decision(got, want) -> None:
    """Two motion decisions of a slice (``motion_search.SliceDecision``), field by field: the same arrays (the
    residual's tuple element by element), None where the other is None."""
    assert type(got) is type(want)
    for name, a, b in zip(got._fields, got, want):
        if isinstance(a, tuple) or isinstance(b, tuple):
            assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b), name
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert (a is None) == (b is None), name
            np.testing.assert_array_equal(a, b, err_msg=name)


def encode_seen(model, settings, frames: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``frames`` encoded by a GopEncoder with ``settings`` (fps 16, coded size = frame size), and the frames
    as the encoder reconstructed them (what the decoder must make)."""
    import io
    from vqcodec.coding.encoder import GopEncoder, write_container
    seen, (_, h, w, _) = [], frames.shape
    enc = GopEncoder(model, settings, w, h, on_gop=lambda g, n, codes, recon: seen.append(recon[:n]))
    for f in frames:
        enc.add_frame(f)
    buf = io.BytesIO()
    write_container(buf, model, settings, enc.finish(), source_size=(w, h), coded_size=(w, h), fps=16)
    return buf.getvalue(), np.concatenate(seen)


def check_golden(data: bytes, model, settings, stem: str, arrays_of) -> list:
    """The golden file ``data`` (tests/golden/STEM.vqv) decodes to STEM_codes.npz (``arrays_of(gop)``: a decoded
    GOP's arrays by name) and to STEM_frames.npy (within one level: the network's floats may round apart), and its
    GOPs written again with ``settings`` make the same bytes. Returns the decoded GOPs."""
    import io
    from vqcodec.coding.decoder import decode_bytes, read_gop_codes
    from vqcodec.coding.encoder import EncodedGop, write_container
    from vqcodec.formats import VqvReader
    golden = Path(__file__).parent / "golden"
    h, want = VqvReader(io.BytesIO(data)).header, np.load(golden / f"{stem}_codes.npz")
    got = list(read_gop_codes(VqvReader(io.BytesIO(data)), model))
    arrays = {k: v for g in got for k, v in arrays_of(g).items()}
    assert set(arrays) == set(want.files)
    for key, arr in arrays.items():
        np.testing.assert_array_equal(arr, want[key])
    frames, ref = decode_bytes(data, model=model), np.load(golden / f"{stem}_frames.npy")
    diff = np.abs(frames.astype(int) - ref.astype(int))
    assert frames.shape == ref.shape and diff.max() <= 1 and (diff > 0).mean() < 0.01
    out = io.BytesIO()
    write_container(out, model, settings, [EncodedGop(g.codes, g.frames, g.refresh) for g in got],
                    source_size=(h.source_width, h.source_height), coded_size=(h.coded_width, h.coded_height),
                    fps=h.fps_num / h.fps_den)
    assert out.getvalue() == data
    return got


@pytest.fixture(scope="module")
def padded_gops():
    """Files as written before format 13.0: every GOP, the last too, coded over 32 frames (``DEFAULT_TRIM_GOPS``
    off). For the modules whose tests pin such files' bytes or versions (``pytestmark``); module-scoped, so that it
    is in place before their module-scoped encodes. Trimmed GOPs have their own tests (test_trimmed_gops.py)."""
    from vqcodec import settings
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "DEFAULT_TRIM_GOPS", False)
        yield


@pytest.fixture(scope="session")
def shipped_model():
    """The shipped default model, loaded once, as the release before its light synthesis (the decoder everywhere,
    that release's digest: the suite's pinned bytes are its files'; tests/test_light_synthesis.py tests the light
    synthesis)."""
    from vqcodec.weights import load_model
    return load_model().full_synthesis()


def session27_encoder(monkeypatch) -> None:
    """Undo session 28's encoder tuning (docs/DESIGN.md, "Motion"): no top copies under wholly predicted cells,
    the top's lambda scales of before (x64 over VQ stages, x1 over the scalar layer) and the motion residual's
    lambda 0.35. Then the encoder writes session 27's files byte for byte (the tests that call this pin them)."""
    from vqcodec.coding import lambdas, rdo
    monkeypatch.setattr(lambdas, "MOTION_LAMBDA_SCALE_RESIDUAL", 0.35)
    monkeypatch.setattr(rdo, "TOP_SCALE_WITH_BOTTOM", 64.0)
    monkeypatch.setattr(rdo, "TOP_SCALE_WITH_SCALAR_BOTTOM", 1.0)
    monkeypatch.setattr(rdo, "predicted_cells", lambda flags, grid: None)


def make_tiny_weights(path: Path, seed: int = 0) -> Path:
    """A tiny model with k-means-initialised codebooks and a shipped empirical-static prior."""
    import torch

    from vqcodec.coding.gops import coded_symbols
    from vqcodec.net.model import MSVQVAE, get_config, uint8_to_input
    from vqcodec.entropy.priors import EmpiricalStaticPrior
    from vqcodec.weights import save_weights

    torch.manual_seed(seed)
    net = MSVQVAE(get_config("tiny"))
    clips = np.stack([synthetic_video(8, 32, 32, seed=s) for s in range(4)])
    net.train()
    with torch.no_grad():
        net(uint8_to_input(torch.from_numpy(clips)))
    net.eval()
    counts: dict[str, np.ndarray] = {}
    codes = net.encode(clips, stages=net.cfg.operating_points[-1])
    for s in (s for c in codes.unbatch() for s in coded_symbols(c)):
        counts[s.name] = counts.get(s.name, 0) + np.bincount(s.symbols, minlength=s.codebook_size)
    # lower-quality points use a prefix of the same streams, so the top quality covers them all
    static = EmpiricalStaticPrior.from_counts(counts)
    save_weights(net, path, precision="float", priors={"empirical-static": static.to_bytes()})
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    return make_tiny_weights(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="session")
def tiny_model(tiny_weights):
    from vqcodec.weights import load_model
    return load_model(tiny_weights)


@pytest.fixture
def video_npy(tmp_path) -> Path:
    p = tmp_path / "in.npy"
    np.save(p, synthetic_video())
    return p
