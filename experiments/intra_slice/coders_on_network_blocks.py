"""Would the conditional coders pay on the blocks the network codes (slice 0, and the unpredicted blocks of slices
1-7), conditioned on the network's reconstruction as P? Per block D + lam R against the reconstruction alone
(plus a flag bit), lam as the encoder's motion lambda at that quality; reports the bits added and the PSNR gained."""
import io, sys, numpy as np, torch
from vqcodec.coding.encoder import encode_frames
from vqcodec.coding.decoder import decode_bytes, read_gop_codes
from vqcodec.formats import VqvReader
from vqcodec.weights import load_model, default_conditional_coder
from vqcodec.coding.motion_search import block_sse
from vqcodec.coding.motion_residual import OPTION_BITS
torch.set_num_threads(2)
m = load_model(); cc = default_conditional_coder()
LAM = {3: 3/0.00039, 4: 3/0.0008, 5: 3/0.0013, 6: 3/0.0028, 8: 3/0.0032, 9: 3/0.0051}
def p(mse): return 10*np.log10(255**2/mse)
for path in sys.argv[1:]:
    x = np.load(path)[:32]
    for q in (4, 6, 9):
        d = encode_frames(x, 16, model=m, quality=q); y = decode_bytes(d, model=m)
        g = next(iter(read_gop_codes(VqvReader(io.BytesIO(d)), m)))
        flags = g.codes.motion.flags if g.codes.motion is not None else None
        lam = LAM[q]
        sse0 = ((y.astype(float) - x)**2).sum()
        add_bits, sse_new, taken_n, net_n = 0.0, sse0, 0, 0
        s0_bits, s0_gain = 0.0, 0.0
        for s in range(8):
            X, P = x[s*4:s*4+4], y[s*4:s*4+4]
            net = np.ones((8, 8), bool) if s == 0 or flags is None else ~flags[s]
            if not net.any(): continue
            d_p = block_sse(P, X, (8, 8)).astype(float)
            best = d_p + lam * 1.0           # one flag bit per network block
            bits = np.full(d_p.shape, 1.0); dd = d_p.copy()
            for j in range(cc.coders):
                yj = cc.symbols(j, X, P)
                d_j = block_sse(cc.reconstruct(j, yj, P), X, (8, 8)).astype(float)
                r_j = cc.block_bits(j, yj) + OPTION_BITS
                c = d_j + lam * r_j
                take = c < best
                best = np.where(take, c, best); bits = np.where(take, r_j, bits); dd = np.where(take, d_j, dd)
            add_bits += bits[net].sum(); sse_new += (dd - d_p)[net].sum()
            taken_n += int((bits[net] > 1).sum()); net_n += int(net.sum())
            if s == 0: s0_bits, s0_gain = bits[net].sum(), (dd - d_p)[net].sum()
        n = x.size
        print(f"{path.split('/')[-1][:28]:28} Q{q}: {len(d)} B {p(sse0/n):.2f} dB -> +{add_bits/8:.0f} B ({100*add_bits/8/len(d):.1f}%) {p(sse_new/n):.2f} dB;"
              f" coder on {taken_n}/{net_n} network blocks; slice 0 +{s0_bits/8:.0f} B", flush=True)
