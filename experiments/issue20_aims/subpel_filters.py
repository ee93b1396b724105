"""Probe: the motion layer's sub-pixel interpolation, bilinear (today) against separable 8-tap filters
(HEVC luma's quarter / half / three-quarter taps, or others via TAPS env), in the encoder's search and in the
prediction both sides make. Encodes and decodes each clip at QS, prints bytes / PSNR per variant and BD-rates."""
import json, os, sys
import numpy as np, torch
import vqcodec.coding.motion as motion
import vqcodec.coding.motion_search as ms
from vqcodec import load_model, encode_frames, decode_bytes
from vqcodec.metrics import psnr

FILTERS = {
    "hevc8": {0: [0, 0, 0, 64, 0, 0, 0, 0], 1: [-1, 4, -10, 58, 17, -5, 1, 0], 2: [-1, 4, -11, 40, 40, -11, 4, -1],
              3: [0, 1, -5, 17, 58, -10, 4, -1]},
    "hevc4": {0: [0, 0, 0, 64, 0, 0, 0, 0], 1: [0, 0, -4, 54, 16, -2, 0, 0], 2: [0, 0, -4, 36, 36, -4, 0, 0],
              3: [0, 0, -2, 16, 54, -4, 0, 0]},        # HEVC chroma's 1/8-pel taps at 2/8, 4/8, 6/8
}


def planes_of(ref, pad, taps):
    """int16 (16, H + 2 pad, W + 2 pad, 3): phase fy * 4 + fx at (y - pad + fy / 4, x - pad + fx / 4), edge-clamped."""
    h, w, _ = ref.shape
    P = pad + 4
    r = np.pad(ref.astype(np.int64), ((P, P), (P, P), (0, 0)), mode="edge")
    H2, W2 = h + 2 * pad, w + 2 * pad
    across = [sum(t * r[:, 1 + k:1 + k + W2] for k, t in enumerate(taps[fx]) if t) for fx in range(4)]
    out = np.empty((16, H2, W2, 3), np.int16)
    for fy in range(4):
        for fx in range(4):
            acc = sum(t * across[fx][1 + k:1 + k + H2] for k, t in enumerate(taps[fy]) if t)
            out[fy * 4 + fx] = np.clip((acc + 2048) >> 12, 0, 255)
    return out


def install(taps):
    def init(self, ref, reach):
        self.reach, (self.h, self.w) = reach, ref.shape[:2]
        self.planes = planes_of(ref, reach, taps)
        self._windows = {}
    ms.PhasePlanes.__init__ = init

    def predict_paths(ref, disp, mask, block):
        bh, bw = block
        by, bx = np.nonzero(mask)
        if not len(by):
            return np.zeros((0, disp.shape[0], bh, bw, ref.shape[2]), np.uint8)
        v = disp[:, by, bx].astype(np.int64)
        p = int(np.abs(v).max()) // 4 + 2
        planes = planes_of(ref, p, taps)
        phase = (v[..., 0] & 3) * 4 + (v[..., 1] & 3)
        y0 = by * bh + (v[..., 0] >> 2) + p
        x0 = bx * bw + (v[..., 1] >> 2) + p
        rows = y0[..., None] + np.arange(bh)
        cols = x0[..., None] + np.arange(bw)
        out = planes[phase[..., None, None], rows[..., :, None], cols[..., None, :]]
        return out.astype(np.uint8).swapaxes(0, 1)
    motion.predict_paths = predict_paths


torch.set_num_threads(2)
m = load_model()
variant = os.environ.get("VARIANT", "bilinear")
if variant != "bilinear":
    install(FILTERS[variant])
qs = [int(q) for q in os.environ.get("QS", "3,5,7,9,11").split(",")]
for path in sys.argv[1:]:
    fr = np.load(path)
    for q in qs:
        data = encode_frames(fr, 16, model=m, quality=q, prior="auto")
        out = decode_bytes(data, model=m)[:len(fr)]
        print(json.dumps({"variant": variant, "clip": os.path.basename(path), "q": q, "bytes": len(data),
                          "bpp": len(data) * 8 / fr[..., 0].size, "psnr": round(float(psnr(fr, out)), 4)}), flush=True)
