"""The coders on the first slice at the enhanced points too (Q10-Q12; off since session 24), with this session's
encoder: the 7 clips at Q9-Q12, ``off`` as built, ``on`` with ``EncodeSettings.intra_refinement`` patched on."""
import glob, json, sys, numpy as np, torch
torch.set_num_threads(2)
import vqcodec.settings as S
from vqcodec.weights import load_model
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.metrics import psnr
m = load_model()
if sys.argv[1] == "on":
    S.EncodeSettings.intra_refinement = property(lambda self: self.intra_coder and self.conditional is not None)
for p in sorted(glob.glob("/work/s26/clips/*.npy")):
    x = np.load(p)[:32]
    for q in (9, 10, 11, 12):
        d = encode_frames(x, 16, model=m, quality=q)
        print(json.dumps({"label": sys.argv[1], "clip": p.split("/")[-1][:30], "q": q, "bytes": len(d), "psnr": psnr(decode_bytes(d, model=m), x)}), flush=True)
