"""`vqv model-info`: what a preset or a weights file is, in numbers."""
from __future__ import annotations

import math

from vqcodec.coding.ladder import LadderPoint
from vqcodec.net.model import MSVQVAE, count_parameters, get_config, stage_bits

CLIP = (32, 64, 64)  # the paper's clip: 32 frames of 64x64


def model_info(config_name: str | None = None, model_path=None) -> dict:
    card: dict = {}
    m = None
    if config_name is not None and model_path is None:
        cfg = get_config(config_name)
        net = MSVQVAE(cfg)
        source = f"preset {config_name}"
    else:
        from vqcodec.weights import load_model  # noqa: PLC0415
        m = load_model(model_path)
        net, cfg, card = m.net, m.cfg, m.card
        source = f"{m.path} (sha256 {m.sha256[:16]}...)"
    grids = cfg.latent_grids(*CLIP)
    pixels = math.prod(CLIP)
    measured = card.get("operating_points", {})
    ladder = m.ladder.points if m is not None else [LadderPoint(t, b) for t, b in cfg.operating_points]
    points = []
    for q, pt in enumerate(ladder, 1):
        p = {"quality": q, "top_stages": pt.top, "bottom_stages": pt.bottom, "default": q == cfg.default_quality}
        if pt.scalar:        # integers under entropy coding: no fixed raw size
            p["scalar_step"] = pt.step
        if pt.enhanced:
            p["enhancement_step"] = pt.enh_step
        if not (pt.scalar or pt.enhanced):
            raw = stage_bits(cfg, pt.top, pt.bottom, *CLIP)
            p.update(raw_bits_per_clip=int(raw), raw_bpp=raw / pixels)
        p.update(measured.get(str(q), {}))
        points.append(p)
    return {
        "source": source, "name": cfg.name, "parameters": count_parameters(net), "conv": cfg.conv,
        "stride": list(cfg.stride), "clip": list(CLIP),
        "latent_grids": {k: list(v) for k, v in grids.items()},
        "codebooks": {**({"top": cfg.top_codebook} if "top" in grids else {}), "bottom": cfg.bottom_codebook},
        "stages": {**({"top": cfg.top_stages} if "top" in grids else {}), "bottom": cfg.bottom_stages},
        "latent_dim": cfg.latent_dim, "operating_points": points,
        "card": {k: v for k, v in card.items() if k != "operating_points"},
    }
