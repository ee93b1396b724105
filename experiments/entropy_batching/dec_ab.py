import sys, time, hashlib, torch   # best-of-N in-process decodes of .vqv files, with the decoded pixels' hash
from vqcodec import load_model, decode_bytes
torch.set_num_threads(2)
m = load_model()
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    out = decode_bytes(data, model=m)
    ts = []
    for _ in range(int(__import__("os").environ.get("N", "5"))):
        t0 = time.perf_counter(); out = decode_bytes(data, model=m); ts.append(time.perf_counter() - t0)
    print(path.split("/")[-1], f"best {min(ts):.3f} median {sorted(ts)[len(ts)//2]:.3f}", hashlib.sha256(out.tobytes()).hexdigest()[:12], flush=True)
