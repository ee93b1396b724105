"""write_container alone, on GOPs the encoder decided once: each file's bytes (SHA-256), its time (best of 2), ideal bits."""
import hashlib, io, sys, time, numpy as np, torch
from fractions import Fraction
import vqcodec.coding.encoder as E
from vqcodec import load_model
from vqcodec.settings import EncodeSettings
torch.set_num_threads(2)
m = load_model()
for path in sys.argv[1:]:
    fr = np.load(path)[:64]
    for q in (3, 4, 6, 9, 12):
        s = EncodeSettings.build(m, quality=q).for_size(fr.shape[2], fr.shape[1])
        enc = E.GopEncoder(m, s, fr.shape[2], fr.shape[1])
        for f in fr: enc.add_frame(f)
        gops = enc.finish()
        ts = []
        for _ in range(2):
            buf = io.BytesIO(); t0 = time.perf_counter()
            st = E.write_container(buf, m, s, gops, source_size=(fr.shape[2], fr.shape[1]), coded_size=(fr.shape[2], fr.shape[1]), fps=Fraction(16))
            ts.append(time.perf_counter() - t0)
        d = buf.getvalue()
        print(path.split("/")[-1], q, len(d), hashlib.sha256(d).hexdigest()[:16], f"{min(ts):.3f}s", round(st.ideal_bits, 3), flush=True)
