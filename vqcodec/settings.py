"""What the user chose for one encode, checked once against the model and handed down.

:class:`EncodeSettings` is built once (by :func:`EncodeSettings.build`, from the CLI's or the API's
options) and given to the encoder and the container writer; nothing they decide travels back into it.
The quality is resolved here, and only here, into the model's ladder point (the ladder is the one
owner of what a quality means: :meth:`vqcodec.weights.CodecModel.point`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vqcodec.coding.effort import Effort
from vqcodec.coding.motion_residual import ResidualSyntax, options_for
from vqcodec.errors import OptionError, VqvError
from vqcodec.formats.header import NETWORK_FLOATS

if TYPE_CHECKING:
    from vqcodec.coding.ladder import LadderPoint
    from vqcodec.weights import CodecModel

PRIOR_CHOICES = ("auto", "uniform", "empirical-static", "empirical-adaptive", "learned", "rank")
# A refresh GOP every 8 GOPs (256 frames, 16 s at 16 fps; x264's default keyint is 250 frames).
# Seeking decodes at most 7 earlier GOPs' *codes* (entropy decoding only, no network), and damage
# stops at the next refresh point. docs/DESIGN.md ("Refresh points") has the measured cost of others.
DEFAULT_REFRESH = 8
DEFAULT_RDO_STRENGTH = 1.0
# The motion layer is on: -19% of the bits at equal PSNR on the validation clips for about twice the
# encode time (docs/DESIGN.md, "Motion"). `vqv encode-dataset` leaves it off: there the codes are the
# product, and a predicted block's codes are a copy of the slice before, not its content.
DEFAULT_MOTION = True
DEFAULT_MOTION_SEARCH = 6       # integer pixels per frame, each way (the motion layer's limit is 8)
DEFAULT_MOTION_RESIDUAL = True  # with --motion: predicted blocks may carry a residual
DEFAULT_MOTION_BENDS = True     # with --motion: predicted blocks may follow bent paths (format 7.0)
# with the motion residual: predicted blocks may take a conditional coder (format 8.0; docs/DESIGN.md,
# "Conditional coders")
DEFAULT_CONDITIONAL_CODER = True
# with them: the coders refine a refresh GOP's first slice too (format 9.0), at points without an enhancement
# layer (above them it cost more than it gained; docs/DESIGN.md, "Conditional coders")
DEFAULT_INTRA_CODER = True
# At a scalar point the scalar layer's first slice of each refresh GOP is coded in two checkerboard passes, the
# second under its neighbours' context (format 11.0; experiments/encoder_tuning)
DEFAULT_SCALAR_CONTEXT = True
# With the motion layer a GOP ends before a scene cut inside a slice (format 12.0), at points with at least this
# many bottom VQ stages or a scalar bottom layer (Q4-Q12 of the shipped model): at Q3 the second refresh slice
# cost more than it saved on the training windows (experiments/scene_cuts/README.md); with trimmed GOPs (below) the
# GOP cut short no longer pays for its padding, and from Q3 on (two stages) the split saved 3.7% at Q3 on those
# windows (experiments/trimmed_gops/README.md)
DEFAULT_SCENE_CUTS = True
SCENE_CUT_MIN_STAGES, SCENE_CUT_MIN_STAGES_TRIMMED = 3, 2
# A GOP of fewer frames than a GOP's (the last, or one ended at a scene cut) is coded over the fewest whole top-level
# slices (8 frames) that hold it, not padded to 32 frames (format 13.0; experiments/trimmed_gops/README.md)
DEFAULT_TRIM_GOPS = True
# Unless asked for (--conditional-coder), only on frames up to this many pixels: each coder's synthesis runs
# at full resolution, ~0.14 s a slice at 320x240 but ~2.4 s at 720p (docs/speed.md, "Session 21"), which
# would slow 720p decoding below 1 frame/s.
CODER_AUTO_MAX_PIXELS = 640 * 480
# What the networks compute in. bfloat16 (format 10.0) runs them about twice as fast on CPUs with bfloat16
# instructions for the same rate and quality (docs/DESIGN.md, "Network float"); "auto" takes it there only,
# since elsewhere torch emulates it, slower than float32. A file says which it needs; any CPU decodes either.
NETWORK_FLOAT_CHOICES = ("auto", *NETWORK_FLOATS)
DEFAULT_NETWORK_FLOAT = "auto"      # what an encode left at None takes (the test suite pins float32: conftest.py)


@dataclass(frozen=True)
class Preset:
    """One of ``vqv encode --preset``: how much work the encoder's motion decisions do (as x264's presets).
    Any option given explicitly wins over its preset's value; every preset's files decode alike."""

    motion: bool = DEFAULT_MOTION
    motion_search: int = DEFAULT_MOTION_SEARCH
    motion_bends: bool = DEFAULT_MOTION_BENDS
    effort: Effort = Effort()        # how hard each slice's decision looks (coding.effort)
    conditional_coder: bool = DEFAULT_CONDITIONAL_CODER   # (its synthesis costs the decoder too)


# Measured speed and BD-rate of each against medium: docs/speed.md, "Session 19: encoder presets".
PRESETS: dict[str, Preset] = {
    "ultrafast": Preset(motion=False),
    "veryfast": Preset(motion_search=3, effort=Effort(second=False), conditional_coder=False),   # one decision
    "faster": Preset(motion_search=3, effort=Effort(bends_first=False), conditional_coder=False),
    "fast": Preset(effort=Effort(bends_first=False, dead_zones=(0.0,), coders=2)),
    "medium": Preset(),
}
DEFAULT_PRESET = "medium"


@dataclass(frozen=True)
class EncodeSettings:
    quality: int                 # the model's quality number (1..)
    point: LadderPoint           # what that quality is: stage counts, scalar step, enhancement step
    prior: str = "auto"          # one of PRIOR_CHOICES
    rdo_strength: float = DEFAULT_RDO_STRENGTH   # lambda scale of the copy decisions; 0 = copy mode off
    refresh: int = DEFAULT_REFRESH               # a refresh GOP every this many GOPs (0: only the first)
    motion: bool = DEFAULT_MOTION                # the motion layer (format 3.0); needs copy mode
    motion_search: int = DEFAULT_MOTION_SEARCH   # the motion search's range, pixels per frame
    motion_residual: tuple = ()  # the residual options this model offers, if asked for (format 5.0)
    motion_bends: int = 0        # the frames of a slice if predicted blocks may bend (format 7.0), else 0
    preset: str = DEFAULT_PRESET                 # the motion decisions' effort comes from it
    #: the shipped conditional coders (:class:`~vqcodec.coding.conditional_coder.ConditionalCoder`) if asked
    #: for and this model's blocks fit them, else None
    conditional_coder: object = None
    coder_asked: bool = False    # --conditional-coder given: the coders at any frame size
    intra_coder: bool = DEFAULT_INTRA_CODER      # the coders on a refresh GOP's first slice too (format 9.0)
    network_float: str = "float32"               # what the networks compute in ("bfloat16": format 10.0)
    scalar_context: bool = DEFAULT_SCALAR_CONTEXT  # the scalar layer's first slices under context (format 11.0)
    scene_cuts: bool = DEFAULT_SCENE_CUTS  # with the motion layer: a GOP ends at a cut inside a slice (format 12.0)
    trim_gops: bool = DEFAULT_TRIM_GOPS    # a GOP of fewer frames coded over whole top slices only (format 13.0)

    def for_size(self, width: int, height: int) -> EncodeSettings:
        """These settings for frames of ``width`` x ``height`` (coded size): without the conditional coders
        above :data:`CODER_AUTO_MAX_PIXELS` unless they were asked for."""
        if self.conditional_coder is None or self.coder_asked or width * height <= CODER_AUTO_MAX_PIXELS:
            return self
        return dataclasses.replace(self, conditional_coder=None)

    @property
    def effort(self) -> Effort:
        return PRESETS[self.preset].effort

    @property
    def copy_mode(self) -> bool:
        return self.rdo_strength > 0

    @property
    def motion_layer(self) -> bool:
        """Whether files carry the motion layer: asked for, copy mode on, and at least two bottom VQ
        stages or a scalar bottom layer at this point (a motion block pays by the bottom codes it copies
        instead of sending: at a top-only point there are none, and at one bottom stage the layer cost
        more than it saved on the moving training clips, e.g. bikes Q2: +5.5% bits for +0.05 dB)."""
        return self.motion and self.copy_mode and (self.point.bottom >= 2 or self.point.scalar)

    @property
    def residual_options(self) -> tuple[tuple[int, int], ...]:
        """The motion residual's options (stages of the bottom quantiser, :mod:`vqcodec.coding.motion_residual`),
        or () where files carry none: with the motion layer, unless turned off (at an enhanced point the
        enhancement layer then codes what the residual left)."""
        return self.motion_residual if self.motion_layer else ()

    @property
    def bend_frames(self) -> int:
        """What the payload walk's ``bends`` takes: a slice's frames where files carry bent paths, else 0."""
        return self.motion_bends if self.motion_layer else 0

    @property
    def conditional(self):
        """The conditional coders where files carry them (with the motion residual: format 8.0), else None."""
        return self.conditional_coder if self.residual_options else None

    @property
    def intra_refinement(self) -> bool:
        """Whether files let the conditional coders refine a refresh GOP's first slice (format 9.0): with the
        coders, unless turned off, at a point without an enhancement layer."""
        return self.intra_coder and self.conditional is not None and not self.point.enhanced

    @property
    def first_slice_context(self) -> bool:
        """Whether files code the scalar layer's first slices under context (format 11.0): at a scalar point,
        unless turned off."""
        return self.scalar_context and self.point.scalar

    @property
    def cuts_at_scenes(self) -> bool:
        """Whether a GOP ends before a scene cut inside a slice (format 12.0): asked for, with the motion layer,
        at a point with :data:`SCENE_CUT_MIN_STAGES` bottom stages (:data:`SCENE_CUT_MIN_STAGES_TRIMMED` with trimmed
        GOPs) or a scalar bottom layer."""
        stages = SCENE_CUT_MIN_STAGES_TRIMMED if self.trim_gops else SCENE_CUT_MIN_STAGES
        enough = self.point.scalar or self.point.bottom >= stages
        return self.scene_cuts and self.motion_layer and enough

    @property
    def motion_coding(self):
        """What the payload walk (``gop_coding``'s ``motion``) takes: the residual's options with the
        conditional coders' tables (8.0; 9.0 with the first slice's), the options alone (5.0), else whether
        files carry the motion layer."""
        if self.conditional is not None:
            return ResidualSyntax(self.residual_options, self.conditional.tables, self.intra_refinement)
        return self.residual_options or self.motion_layer

    @classmethod
    def build(cls, model: CodecModel, *, quality: int | None = None, prior: str = "auto",
              rdo_strength: float = DEFAULT_RDO_STRENGTH, refresh: int = DEFAULT_REFRESH,
              motion: bool | None = None, motion_search: int | None = None,
              motion_residual: bool = DEFAULT_MOTION_RESIDUAL, motion_bends: bool | None = None,
              preset: str = DEFAULT_PRESET, conditional_coder: bool | None = None,
              intra_coder: bool = DEFAULT_INTRA_CODER, network_float: str | None = None,
              scalar_context: bool = DEFAULT_SCALAR_CONTEXT, scene_cuts: bool = DEFAULT_SCENE_CUTS,
              trim_gops: bool | None = None) -> EncodeSettings:
        """Check every option against ``model`` (an :class:`OptionError` names the bad one); the motion
        options left at None take ``preset``'s values; ``network_float`` (None: :data:`DEFAULT_NETWORK_FLOAT`)
        "auto" is bfloat16 where this CPU has bfloat16 instructions, else float32; ``trim_gops`` None:
        :data:`DEFAULT_TRIM_GOPS`, read when called."""
        if preset not in PRESETS:
            raise OptionError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        ps = PRESETS[preset]
        motion = ps.motion if motion is None else motion
        motion_search = ps.motion_search if motion_search is None else motion_search
        motion_bends = ps.motion_bends if motion_bends is None else motion_bends
        asked = conditional_coder is True
        conditional_coder = ps.conditional_coder if conditional_coder is None else conditional_coder
        q = quality if quality is not None else model.default_quality
        if q not in model.qualities:
            raise OptionError(f"unknown quality {q} (this model offers {model.qualities[0]}..{model.qualities[-1]})")
        if not rdo_strength >= 0 or rdo_strength == float("inf"):
            raise OptionError(f"--rdo-strength must be a finite number >= 0, got {rdo_strength}")
        if refresh < 0:
            raise OptionError(f"--refresh must be >= 0, got {refresh}")
        if not 1 <= motion_search <= 8:
            raise OptionError(f"--motion-search must be in 1..8 pixels, got {motion_search}")
        if prior not in PRIOR_CHOICES:
            raise VqvError(f"unknown prior {prior!r} (choose from {', '.join(PRIOR_CHOICES)})")
        network_float = DEFAULT_NETWORK_FLOAT if network_float is None else network_float
        if network_float not in NETWORK_FLOAT_CHOICES:
            raise OptionError(f"unknown network float {network_float!r} (choose from {', '.join(NETWORK_FLOAT_CHOICES)})")
        if network_float == "auto":
            from vqcodec.net.bfloat16 import bfloat16_is_native   # torch: not for ``vqv --help``
            network_float = "bfloat16" if bfloat16_is_native() else "float32"
        # the residual reads the bottom quantiser's codebooks through the linear path: a model without
        # one (or with too few stages) cannot carry it
        basis = model.motion_residual_basis if motion_residual else None
        residual = () if basis is None else options_for(basis.stages)
        coder = None
        from vqcodec.coding.conditional_coder import ConditionalCoder
        if conditional_coder and residual and ConditionalCoder.fits(tuple(model.cfg.bottom_factor)):
            from vqcodec.weights import default_conditional_coder
            coder = default_conditional_coder()       # None where no coders are shipped
            coder = None if coder is None else coder.computing_in(network_float)
        return cls(q, model.point(q), prior, float(rdo_strength), int(refresh), bool(motion), int(motion_search),
                   residual, int(model.cfg.bottom_factor[0]) if motion_bends else 0, preset, coder, asked,
                   bool(intra_coder), network_float, bool(scalar_context), bool(scene_cuts),
                   DEFAULT_TRIM_GOPS if trim_gops is None else bool(trim_gops))
