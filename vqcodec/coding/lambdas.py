"""The motion decisions' lambda: how many squared 8-bit pixel errors one bit is worth when the encoder chooses
between the network's reconstruction and a predicted block, from the operating point's own lambda."""
from __future__ import annotations

from vqcodec.coding import rdo
from vqcodec.coding.motion_search import PIXEL_SSE_PER_LATENT
from vqcodec.entropy.scalar_prior import ScalarTables

#: The motion decisions' lambda against the point's own: a predicted block is also the reference of later
#: ones, which a greedy decision does not see (the sweeps that chose both: docs/DESIGN.md, "Motion").
MOTION_LAMBDA_SCALE = 0.5
#: ... with the motion residual, whose predicted blocks are better references still (0.35 until session 28,
#: when the coders' cheaper predicted blocks made 0.25 better: experiments/encoder_tuning/README.md).
MOTION_LAMBDA_SCALE_RESIDUAL = 0.25
#: ... and at a scalar point without the enhancement layer (Q7-Q9), times this: there the point's lambda is the
#: high-rate slope of a uniform quantiser (:func:`rdo.scalar_lambda`), which overstates a coarse step's (Q7's
#: came out 4.6x the stage point Q6's, and Q7's files smaller and worse than Q6's): docs/DESIGN.md, "Motion".
MOTION_LAMBDA_SCALE_SCALAR = 0.5
#: ... but at steps finer than this (the overstatement shrinks; 0.5 put Q9 level with Q10) this factor instead.
MOTION_LAMBDA_FINE_STEP, MOTION_LAMBDA_SCALE_FINE_SCALAR = 1.0, 0.7
#: At an enhanced point (Q10-Q12) with the motion residual the enhancement's copy decisions' lambda is the step's
#: times the first (without motion it lost), and at enhancement steps finer than the second (Q11-Q12) the motion
#: lambda times the third (at Q10 it put the point below Q9): session 29, experiments/encoder_tuning/README.md.
ENHANCEMENT_LAMBDA_SCALE, MOTION_LAMBDA_FINE_ENHANCEMENT, MOTION_LAMBDA_SCALE_FINE_ENHANCEMENT = 0.5, 72.0, 1.5


def motion_lambda(rdo_strength: float, residual: bool, scalar: ScalarTables | None, enhancement: ScalarTables | None,
                  level_lambda: float) -> float:
    """Pixel squared error per bit for the motion decisions: the finest layer's lambda in 8-bit pixel units (at a
    stage point ``level_lambda``, the finest VQ level's), times :data:`MOTION_LAMBDA_SCALE`
    (:data:`MOTION_LAMBDA_SCALE_RESIDUAL` with the motion ``residual``; at a scalar point also
    :data:`MOTION_LAMBDA_SCALE_SCALAR`, or :data:`MOTION_LAMBDA_SCALE_FINE_SCALAR` at a step below
    :data:`MOTION_LAMBDA_FINE_STEP`; at an enhanced point see :data:`MOTION_LAMBDA_SCALE_FINE_ENHANCEMENT`)."""
    scale = MOTION_LAMBDA_SCALE_RESIDUAL if residual else MOTION_LAMBDA_SCALE
    strength = rdo_strength * scale
    if enhancement is not None:
        fine = residual and enhancement.step < MOTION_LAMBDA_FINE_ENHANCEMENT
        return rdo.scalar_lambda(enhancement.step, strength) * (MOTION_LAMBDA_SCALE_FINE_ENHANCEMENT if fine else 1)
    if scalar is not None:
        step_scale = MOTION_LAMBDA_SCALE_FINE_SCALAR if scalar.step < MOTION_LAMBDA_FINE_STEP else MOTION_LAMBDA_SCALE_SCALAR
        return rdo.scalar_lambda(scalar.step, strength) * PIXEL_SSE_PER_LATENT * step_scale
    return PIXEL_SSE_PER_LATENT * level_lambda * scale
