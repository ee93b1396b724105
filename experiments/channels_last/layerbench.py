import time, torch
from vqcodec import load_model
torch.set_num_threads(1)
m = load_model().computing_in("bfloat16"); net = m.net
g = torch.Generator().manual_seed(0)
h, w = 51, 44
z = torch.randn(1, 256, 8, h, w, generator=g)
x0 = z.to(torch.bfloat16)
# time every leaf module with its real input
times = {}
def pre(mod, args):
    mod._t0 = time.perf_counter()
def post(mod, args, out):
    times[mod._name] = times.get(mod._name, 0) + time.perf_counter() - mod._t0
for name, mod in net.decoder.named_modules():
    if len(list(mod.children())) == 0:
        mod._name = name
        mod.register_forward_pre_hook(pre); mod.register_forward_hook(post)
with torch.no_grad():
    net.decoder(x0)
    times.clear()
    t0 = time.perf_counter(); y = net.decoder(x0); tot = time.perf_counter() - t0
flops = {}
for name, mod in net.decoder.named_modules():
    if isinstance(mod, torch.nn.Conv3d):
        pass
print(f"total {tot:.3f}")
for k, v in sorted(times.items(), key=lambda kv: -kv[1]):
    print(f"{v:.3f} {k}")
