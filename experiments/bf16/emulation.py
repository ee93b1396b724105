"""Native bfloat16 against emulated (float32 kernels, rounded): decode of the bf16 golden and of a 320x240 clip."""
import io, time, numpy as np, torch
from pathlib import Path
from vqcodec.weights import load_model
from vqcodec.coding import decoder as D
from vqcodec.coding.encoder import encode_frames
torch.set_num_threads(1)
m = load_model()
native = m.computing_in("bfloat16")
emul_net = m.net.in_bfloat16(emulate=True)
from vqcodec.weights import CodecModel, default_conditional_coder
emul = CodecModel(emul_net, m.sha256, m.path, m.priors, m.card, m.legacy)
cc = default_conditional_coder()
from vqcodec.coding.conditional_coder import ConditionalCoder
cc_em = ConditionalCoder(tuple(n.in_bfloat16(emulate=True) for n in cc.nets), cc.tables, cc.digest, cc.lambdas)
x320 = np.load(__import__("os").environ.get("B320", "/work/s26/b320.npy"))[:32]
d320 = encode_frames(x320, 16, model=m, network_float="bfloat16")
for name, data in (("golden", Path("tests/golden/golden_bfloat16.vqv").read_bytes()), ("320x240", d320)):
    outs = {}
    for label, mod, coder in (("native", native, cc.computing_in("bfloat16")), ("emulated", emul, cc_em)):
        D.check_model = lambda h, model, mod=mod: mod
        orig = D.conditional_coder_for_file
        D.conditional_coder_for_file = lambda dg, coder=coder: type("W", (), {"computing_in": lambda self, f: coder})()
        t = time.perf_counter(); outs[label] = D.decode_bytes(data, model=m); dt = time.perf_counter() - t
        D.conditional_coder_for_file = orig
        print(name, label, f"{dt:.2f}s")
    d = np.abs(outs["native"].astype(int) - outs["emulated"])
    print(name, f"max {d.max()}, share differing {(d > 0).mean():.4f}")
