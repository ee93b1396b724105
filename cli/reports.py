"""Human-readable reports for the CLI (the JSON form is the dict itself). Names from the file system
or from a file (paths, a model's name, its card) are printed with their control characters escaped
(:func:`vqcodec.errors.printable`): a file name holding ESC or a newline cannot rewrite the terminal."""
from __future__ import annotations

from vqcodec.formats.errors import printable


def _fmt_bytes(n: int) -> str:
    return f"{n} B" if n < 10_000 else f"{n / 1000:.1f} kB"


def _fmt_audio(a: dict | str) -> str:
    """An audio track in a report: ``aac 48000 Hz stereo, 119 packets, 38.2 kB``, or why it was not written."""
    if isinstance(a, str):
        return a
    return (f"{printable(a['codec'])} {a['sample_rate']} Hz {printable(a['layout'] or str(a['channels']) + ' channels')}, "
            f"{a['packets']} packets, {_fmt_bytes(a['bytes'])}"
            + (f" (section {_fmt_bytes(a['section_bytes'])})" if "section_bytes" in a else ""))


def format_encode(r: dict) -> str:
    lines = [
        f"{printable(r['output'])}: {r['frames']} frames, {r['duration_s']:.2f} s at {r['fps']} fps, "
        f"coded {r['coded_size'][0]}x{r['coded_size'][1]} (source {r['source_size'][0]}x{r['source_size'][1]})",
        f"  size      {_fmt_bytes(r['bytes'])}  {r['bpp']:.4f} bpp  {r['kbps']:.2f} kbps  "
        f"quality {r['quality']}  prior {r['prior']}",
        f"  ratio     {r['ratio_vs_rgb24']:.0f}:1 vs raw RGB24"
        + (f", {r['ratio_vs_input']:.1f}:1 vs the input file" if r.get("ratio_vs_input") else ""),
        "  bits      " + "  ".join(f"{k} {v:.0f}" for k, v in r["bits_per_level"].items())
        + f"  (payload {r['payload_bits']} bits, ideal {r['ideal_payload_bits']:.0f};"
          f" container overhead {r['overhead_bytes']} B)",
        "  copies    " + (_fmt_copies(r) if r.get("copied") else
                            "off" if not r.get("rdo_strength") else "none chosen")
        + f"; {r['gops']} GOPs, {r['refresh_gops']} refresh (every {r['refresh'] or 'first only'})"
        + (f", {r['scene_cuts']} ended before a scene cut" if r.get("scene_cuts") else "")
        + (f", {r['trimmed_gops']} coded over fewer frames" if r.get("trimmed_gops") else ""),
        *([f"  motion    {_fmt_motion(r['motion'])}"] if r.get("motion") else []),
        *([f"  audio     {_fmt_audio(r['audio'])}, packets copied"] if r.get("audio") else []),
        f"  time      {r['encode_seconds']:.2f} s, {r['encode_fps']:.1f} frames/s ({r['threads']} threads"
        + (f", preset {r['preset']}" if r.get("preset") else "")
        + (f", networks in {r['network_float']})" if r.get("network_float", "float32") != "float32" else ")"),
    ]
    if "psnr" in r:
        lines.append(f"  quality   PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f} (vs the coded-size input)")
    return "\n".join(lines)


def _fmt_copies(r: dict) -> str:
    bits = r.get("copy_bits", {})
    return ", ".join(f"{k} {100 * v:.1f}% of positions copied ({bits.get(k, 0):.0f} bits of decisions)"
                     for k, v in r["copied"].items())


def _fmt_motion(m: dict) -> str:
    res = (f", {100 * m['residual']:.1f}% of them with a residual ({m['residual_bits']:.0f} bits)"
           if "residual" in m else "")
    bent = (f", {100 * m['bent']:.1f}% on bent paths ({m['bend_bits']:.0f} bits)" if "bent" in m else "")
    cond = (f", {100 * m['conditional']:.1f}% made by a conditional coder ({m['conditional_bits']:.0f} bits)"
            if "conditional" in m else "")
    cond += (f"; {100 * m['intra']:.1f}% of the refresh GOPs' first-slice blocks refined by a coder "
             f"({m['intra_bits']:.0f} bits)" if "intra" in m else "")
    return (f"{100 * m['predicted']:.1f}% of blocks predicted from the previous frame "
            f"({m['flag_bits']:.0f} bits of flags, {m['vector_bits']:.0f} bits of vectors){res}{bent}{cond}")


def format_decode(r: dict) -> str:
    return (f"{printable(r['output'])}: {r['frames']} frames {r['size'][0]}x{r['size'][1]} at {r['fps']} fps, "
            f"{r['decode_seconds']:.2f} s, {r['decode_fps']:.1f} frames/s"
            + (f"; audio {_fmt_audio(r['audio'])}" if r.get("audio") else ""))


FILLED = {"freeze": "the last good frame repeated", "black": "black frames", "drop": "dropped"}


def format_damage(span: dict, fill: str) -> str:
    """One damaged span of ``vqv decode --skip-damaged``: its GOPs, frames, cause and what replaced it."""
    (g0, g1), (f0, f1) = span["gops"], span["frames"]
    gops = f"GOP {g0}" if g0 == g1 else f"GOPs {g0}-{g1}"
    return f"{gops} (frames {f0}-{f1}) damaged, {FILLED[fill]}: {printable(span['reason'])}"


def format_info(r: dict, gops: bool = True) -> str:
    ov = r["overhead"]
    lines = [
        f"{printable(r['file'])}: .vqv {r['format_version']}, model {r['model']}"
        + (f", conditional coders {r['conditional_coders']}" if r.get("conditional_coders") else "")
        + (f", networks in {r['network_float']}" if r.get("network_float", "float32") != "float32" else ""),
        f"  video     {r['frames']} frames, {r['duration_s']:.2f} s at {r['fps']} fps, coded "
        f"{r['coded_size'][0]}x{r['coded_size'][1]}, source {r['source_size'][0]}x{r['source_size'][1]}",
        f"  coding    quality {r['quality']}, prior {r['prior']} ({r['prior_params_bytes']} B of side info), "
        f"GOP {r['gop_length']} frames, copy mode {'on' if r['copy_mode'] else 'off'}, "
        f"prediction across GOPs {'on' if r['gop_prediction'] else 'off'}"
        + (f", refresh every {r['refresh_interval']} GOPs" if r["gop_prediction"] and r["refresh_interval"] else "")
        + (f", {r['scene_cuts']} GOP{'s'[:r['scene_cuts'] != 1]} ended before a scene cut" if r.get("scene_cuts") else "")
        + (f", GOPs of fewer frames coded over whole {r['gop_trim']}-frame groups" if r.get("gop_trim") else ""),
        f"  size      {_fmt_bytes(r['bytes'])}" + (f", {r['bpp']:.4f} bpp, {r['kbps']:.2f} kbps" if r["bpp"] else ""),
        f"  overhead  {ov['overhead']} B: preamble {ov['preamble']}, header {ov['header']}, "
        f"chunk framing {ov['chunk_framing']}, index {ov['index']}; payload {ov['payload']} B",
        *([f"  audio     {_fmt_audio(r['audio'])}, {r['audio']['duration_s']:.2f} s"] if r.get("audio") else []),
    ]
    if r.get("copied"):
        lines.append(f"  copies    {_fmt_copies(r)}")
    if r.get("motion"):
        lines.append(f"  motion    {_fmt_motion(r['motion'])}")
    elif "copy_stats" in r:
        lines.append(f"  copies    {r['copy_stats']}")
    if gops:
        for g in r["gops"]:
            lines.append(f"  GOP {g['index']:>4}  {g['frames']:>2} frames  {g['payload_bytes'] * 8:>7} bits  "
                         f"symbols {'/'.join(map(str, g['symbols']))}" + ("  (refresh)" if g["refresh"] else ""))
    return "\n".join(lines)


def format_codes(r: dict) -> str:
    """``vqv codes`` and ``vqv latents``: the file, then each array's shape and axes, one a line."""
    layout = r.get("layout", {})
    lines = [f"{printable(r['output'])}: {r['gops']} GOPs at quality {r['quality']}"
             + (f", {r['frames']} frames" if "frames" in r else "")]
    width = max((len(k) for k in r["arrays"]), default=0)
    for k, v in r["arrays"].items():
        lines.append(f"  {k:<{width}}  {str(tuple(v)):<22} {layout.get(k, '')}".rstrip())
    return "\n".join(lines)


def format_encode_dataset(r: dict) -> str:
    speed = (f"; {r['files_per_s']:.2f} files/s, {r['frames_per_s']:.1f} frames/s" if r["encoded"] else "")
    failed = f", {r['failed']} FAILED (see the manifest)" if r["failed"] else ""
    return (f"encode-dataset: {r['encoded']} of {r['files']} files encoded, {r['skipped'] + r['found']} already done"
            f"{failed}; {r['frames']} frames in {r['seconds']:.1f} s{speed} ({r['engine']}, {r['workers']} worker{'s' if r['workers'] != 1 else ''}); "
            f"manifest {printable(r['manifest'])}")


def format_model_info(r: dict) -> str:
    lines = [
        f"{printable(r['name'])}: {printable(r['source'])}",
        f"  parameters   {r['parameters']:,}  ({r['conv']} residual convs, latent dim {r['latent_dim']})",
        f"  stride       {'x'.join(map(str, r['stride']))} (T x H x W)",
        "  latent grids " + ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r["latent_grids"].items())
        + f" for a {'x'.join(map(str, r['clip']))} clip",
        "  codebooks    " + ", ".join(f"{k} {v} codes x {r['stages'][k]} stages" for k, v in r["codebooks"].items()),
        "  operating points (raw = log2(codebook) bits per index, before entropy coding):",
    ]
    for p in r["operating_points"]:
        q = f"Q{p['quality']}{'*' if p['default'] else ''}"
        enh = (f" + enhancement layer, step {p['enhancement_step']:g}" if "enhancement_step" in p else "")
        if "scalar_step" in p:
            s = (f"    {q:<4} top {p['top_stages']} stages + scalar bottom latent, step {p['scalar_step']:g}{enh} "
                 f"(entropy-coded integers: no raw size)")
        elif enh:
            s = (f"    {q:<4} top {p['top_stages']} + bottom {p['bottom_stages']:>2} stages{enh} "
                 f"(entropy-coded integers: no raw size)")
        else:
            s = (f"    {q:<4} top {p['top_stages']} + bottom {p['bottom_stages']:>2} "
                 f"stages: {p['raw_bits_per_clip']:>6} raw bits/clip = {p['raw_bpp']:.4f} bpp")
        if "bpp" in p:
            s += f"; measured {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, SSIM {p['ssim']:.4f}"
        lines.append(s)
    for k, v in r.get("card", {}).items():
        if k == "operating_points":
            continue                                   # shown above, per point
        lines.append(f"  {printable(k)}: {'(a table: see --json)' if isinstance(v, (dict, list)) else printable(v)}")
    return "\n".join(lines)


def format_corpus(m) -> str:
    return m.summary() if hasattr(m, "summary") else str(m)
