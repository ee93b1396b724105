"""Human-readable reports for the CLI (the JSON form is the dict itself)."""
from __future__ import annotations


def _fmt_bytes(n: int) -> str:
    return f"{n} B" if n < 10_000 else f"{n / 1000:.1f} kB"


def format_encode(r: dict) -> str:
    lines = [
        f"{r['output']}: {r['frames']} frames, {r['duration_s']:.2f} s at {r['fps']} fps, "
        f"coded {r['coded_size'][0]}x{r['coded_size'][1]} (source {r['source_size'][0]}x{r['source_size'][1]})",
        f"  size      {_fmt_bytes(r['bytes'])}  {r['bpp']:.4f} bpp  {r['kbps']:.2f} kbps  "
        f"quality {r['quality']}  prior {r['prior']}",
        f"  ratio     {r['ratio_vs_rgb24']:.0f}:1 vs raw RGB24"
        + (f", {r['ratio_vs_input']:.1f}:1 vs the input file" if r.get("ratio_vs_input") else ""),
        "  bits      " + "  ".join(f"{k} {v:.0f}" for k, v in r["bits_per_level"].items())
        + f"  (payload {r['payload_bits']} bits, ideal {r['ideal_payload_bits']:.0f};"
          f" container overhead {r['overhead_bytes']} B)",
        f"  time      {r['encode_seconds']:.2f} s, {r['encode_fps']:.1f} frames/s ({r['threads']} threads)",
    ]
    if "psnr" in r:
        lines.append(f"  quality   PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f} (vs the coded-size input)")
    return "\n".join(lines)


def format_decode(r: dict) -> str:
    return (f"{r['output']}: {r['frames']} frames {r['size'][0]}x{r['size'][1]} at {r['fps']} fps, "
            f"{r['decode_seconds']:.2f} s, {r['decode_fps']:.1f} frames/s")


def format_info(r: dict, gops: bool = True) -> str:
    ov = r["overhead"]
    lines = [
        f"{r['file']}: .vqv {r['format_version']}, model {r['model']}",
        f"  video     {r['frames']} frames, {r['duration_s']:.2f} s at {r['fps']} fps, coded "
        f"{r['coded_size'][0]}x{r['coded_size'][1]}, source {r['source_size'][0]}x{r['source_size'][1]}",
        f"  coding    quality {r['quality']}, prior {r['prior']} ({r['prior_params_bytes']} B of side info), "
        f"GOP {r['gop_length']} frames, GOP context {'on' if r['gop_context'] else 'off'}",
        f"  size      {_fmt_bytes(r['bytes'])}" + (f", {r['bpp']:.4f} bpp, {r['kbps']:.2f} kbps" if r["bpp"] else ""),
        f"  overhead  {ov['overhead']} B: preamble {ov['preamble']}, header {ov['header']}, "
        f"chunk framing {ov['chunk_framing']}, index {ov['index']}; payload {ov['payload']} B",
    ]
    if gops:
        for g in r["gops"]:
            lines.append(f"  GOP {g['index']:>4}  {g['frames']:>2} frames  {g['payload_bytes'] * 8:>7} bits  "
                         f"symbols {'/'.join(map(str, g['symbols']))}" + ("  (context)" if g["uses_context"] else ""))
    return "\n".join(lines)


def format_codes(r: dict) -> str:
    arrays = ", ".join(f"{k} {tuple(v)}" for k, v in r["arrays"].items())
    return f"{r['output']}: {r['gops']} GOPs at quality {r['quality']}; {arrays} (gops, stages, T, H, W)"


def format_model_info(r: dict) -> str:
    lines = [
        f"{r['name']}: {r['source']}",
        f"  parameters   {r['parameters']:,}  ({r['conv']} residual convs, latent dim {r['latent_dim']})",
        f"  stride       {'x'.join(map(str, r['stride']))} (T x H x W)",
        "  latent grids " + ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r["latent_grids"].items())
        + f" for a {'x'.join(map(str, r['clip']))} clip",
        "  codebooks    " + ", ".join(f"{k} {v} codes x {r['stages'][k]} stages" for k, v in r["codebooks"].items()),
        "  operating points (raw = log2(codebook) bits per index, before entropy coding):",
    ]
    for p in r["operating_points"]:
        s = (f"    Q{p['quality']}{'*' if p['default'] else ' '} top {p['top_stages']} + bottom {p['bottom_stages']} "
             f"stages: {p['raw_bits_per_clip']:>6} raw bits/clip = {p['raw_bpp']:.4f} bpp")
        if "bpp" in p:
            s += f"; measured {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, SSIM {p['ssim']:.4f}"
        lines.append(s)
    for k, v in r.get("card", {}).items():
        lines.append(f"  {k}: {v}")
    return "\n".join(lines)


def format_corpus(m) -> str:
    return m.summary() if hasattr(m, "summary") else str(m)
