"""Real files with and without the conditional coders on the refresh GOP's first slice (format 9.0 against
8.0, session 24): each clip (T, 64, 64, 3 .npy, first 32 frames) at each quality, ``intra_coder`` off (k 0)
and on (k 1), decoded; bytes of the whole file and PSNR. Q10-Q12 write 8.0 either way (not re-run).

    PYTHONPATH=. python experiments/intra_slice/rd_intra_coder.py 3,4,5,6,7,8,9,10,11,12 CLIPS... > out.jsonl
    PYTHONPATH=. python experiments/intra_slice/bd_jsonl.py out.jsonl [MAX_Q]
"""
import sys, json, numpy as np
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes
from vqcodec.weights import load_model
from vqcodec.metrics import psnr
m = load_model()
for path in sys.argv[2:]:
    x = np.load(path)[:32]
    for q in [int(v) for v in sys.argv[1].split(",")]:
        row = None
        for k, on in ((0, False), (1, True)):
            if on and q >= 10:                    # 8.0 either way: the same file
                print(json.dumps(dict(row, k=1)), flush=True); continue
            d = encode_frames(x, 16, model=m, quality=q, intra_coder=on); y = decode_bytes(d, model=m)
            row = {"clip": path.split('/')[-1][:30], "q": q, "k": k, "bytes": len(d), "psnr": psnr(y, x)}
            print(json.dumps(row), flush=True)
