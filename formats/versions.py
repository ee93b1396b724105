"""The .vqv format versions (SPEC.md, "Versioning"): which ones a reader reads and a writer writes, which
one the reference writer gives a file, and the header fields each version allows when writing."""

from __future__ import annotations

from .header import (K_CONDITIONAL_CODER, K_INTRA_CODER, K_MOTION_BENDS, K_MOTION_LAYER, K_MOTION_RESIDUAL,
                     K_GOP_TRIM, K_NETWORK_FLOAT, K_SCALAR_CONTEXT, K_SECTIONS, K_SHORT_GOPS, Header)

FORMAT_VERSION: tuple[int, int] = (2, 0)  # what writers write by default
MOTION_VERSION: tuple[int, int] = (3, 0)  # payloads that end with the motion layer (written only with it)
SECTIONS_VERSION: tuple[int, int] = (4, 0)  # files with sections (an audio track); written only with them
RESIDUAL_VERSION: tuple[int, int] = (5, 0)  # the motion layer carries a residual (written only with it)
RANK_VERSION: tuple[int, int] = (6, 0)  # the rank prior codes the payloads (written only with it)
BENDS_VERSION: tuple[int, int] = (7, 0)  # predicted blocks carry bent paths (written only with them)
CODER_VERSION: tuple[int, int] = (8, 0)  # predicted blocks may take a conditional coder (written only with them)
INTRA_CODER_VERSION: tuple[int, int] = (9, 0)  # ... and so may a refresh GOP's first slice's blocks (only with them)
BFLOAT16_VERSION: tuple[int, int] = (10, 0)  # the networks compute in bfloat16 (header key 21); any of the above
SCALAR_CONTEXT_VERSION: tuple[int, int] = (11, 0)  # the scalar layer's first slice in two passes; any of the above
SHORT_GOPS_VERSION: tuple[int, int] = (12, 0)  # GOPs cut short at scene cuts (header key 23); any of the above
TRIMMED_GOPS_VERSION: tuple[int, int] = (13, 0)  # a short GOP coded over fewer frames (header key 25); any of the above
SUPPORTED_MAJORS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # what readers read (any minor)
WRITABLE_VERSIONS: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0),
                                                  (9, 0), (10, 0), (11, 0), (12, 0), (13, 0))


def version_for(motion_layer: bool, sections: bool, motion_residual: bool = False,
                rank_prior: bool = False, motion_bends: bool = False, conditional_coder: bool = False,
                intra_coder: bool = False, bfloat16: bool = False, scalar_context: bool = False,
                short_gops: bool = False, gop_trim: bool = False) -> tuple[int, int]:
    """The version the reference writer gives a file: 13.0 when a GOP of fewer than ``gop_length`` frames is coded
    over fewer frames (whatever else it carries: keys 16 to 25 say what), else 12.0 when a GOP is cut short at a scene cut (whatever else it
    carries: keys 16 to 24 say what), else 11.0 when the scalar layer's first slices are coded in two
    passes, the second under its neighbours' context (whatever else it carries), else 10.0 when its networks compute in bfloat16 (whatever else
    it carries: the header's keys 16 to 22 say what), else 9.0 when the blocks of each refresh GOP's first slice
    may take a conditional coder too, else 8.0 when predicted blocks may take one (header key 20), else 7.0 when the motion layer carries bent paths
    (header key 19), else 6.0 when the rank prior codes it, else 5.0 when the motion layer carries a
    residual (header key 18), else 4.0 with sections (an audio track), else 3.0 with the motion layer,
    else 2.0 (so a file has the bytes and version it had before each later feature existed)."""
    if gop_trim:
        return TRIMMED_GOPS_VERSION
    if short_gops:
        return SHORT_GOPS_VERSION
    if scalar_context:
        return SCALAR_CONTEXT_VERSION
    if bfloat16:
        return BFLOAT16_VERSION
    if conditional_coder:
        return INTRA_CODER_VERSION if intra_coder else CODER_VERSION
    if motion_bends:
        return BENDS_VERSION
    if rank_prior:
        return RANK_VERSION
    if motion_residual:
        return RESIDUAL_VERSION
    return SECTIONS_VERSION if sections else MOTION_VERSION if motion_layer else FORMAT_VERSION


def known_majors_text() -> str:
    """``"1.x, 2.x, ... and 6.x"``: the majors this reader knows, for the refusal message."""
    names = [f"{m}.x" for m in SUPPORTED_MAJORS]
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_writable_version(version: object) -> tuple[int, int]:
    """``version`` as one of WRITABLE_VERSIONS; raises ValueError for any other."""
    try:
        v = tuple(version)  # type: ignore[arg-type]
    except TypeError:
        v = None
    if v not in WRITABLE_VERSIONS:
        raise ValueError(f"version must be one of {WRITABLE_VERSIONS}, got {version!r}")
    return WRITABLE_VERSIONS[WRITABLE_VERSIONS.index(v)]  # type: ignore[arg-type]


def check_header_for_version(version: tuple[int, int], header: Header) -> None:
    """Raise ValueError if ``header`` (already valid by itself) cannot be written in a file of ``version``."""
    major = version[0]
    if (major == 10 and header.network_float != "bfloat16") or (major < 10 and header.network_float != "float32"):
        raise ValueError("network_float (header key 21) is a field of version 10.0 files, which need it bfloat16, "
                         "and of 11.0 and 12.0 files")
    if (major == 12 and not header.short_gops) or (major < 12 and header.short_gops):
        raise ValueError("short_gops (header key 23) is a field of version 12.0 files, which need it, and of 13.0 files")
    if header.scalar_context and major < 12:
        raise ValueError("scalar_context (header key 24) is a field of version 12.0 and 13.0 files (11.0 implies it)")
    if major >= 12 and {K_SHORT_GOPS, K_SCALAR_CONTEXT} & set(header.extra):
        raise ValueError(f"header extra keys 23 and 24 are defined fields in a version {major}.0 file")
    if (major == 13) != bool(header.gop_trim):
        raise ValueError("gop_trim (header key 25) is a field of version 13.0 files, which need it")
    if major >= 13 and K_GOP_TRIM in header.extra:
        raise ValueError(f"header extra key 25 is a defined field in a version {major}.0 file")
    if header.intra_coder and major < 10:
        raise ValueError("intra_coder (header key 22) is a field of version 10.0 files (9.0 implies it)")
    if major < 5 and header.motion_residual:
        raise ValueError("motion_residual (header key 18) is a field of version 5.0 to 7.0 files only")
    if (major == 7 and not header.motion_bends) or (major < 7 and header.motion_bends):
        raise ValueError("motion_bends (header key 19) is a field of version 7.0 files, which need it true, "
                         "and of 8.0 files")
    if major < 10 and (major in (8, 9)) != bool(header.conditional_coder):
        raise ValueError("conditional_coder (header key 20) is a field of version 8.0 and 9.0 files, which need it")
    if major == 6 and header.prior != "rank":
        raise ValueError("a version 6.0 file is coded with the rank prior")
    if header.prior == "rank" and major < 6:
        raise ValueError("the rank prior is a prior of version 6.0 and later files only")
    if major < 2 and (header.copy_mode or header.refresh_interval):
        raise ValueError("a version 1.0 file cannot carry copy_mode or refresh_interval")
    if major == 3 and not header.copy_mode:
        raise ValueError("a version 3.0 file (motion layer) needs copy_mode")
    if major < 4 and (header.motion_layer or header.sections):
        raise ValueError("motion_layer and sections are header fields of version 4.0 files")
    if major >= 4:
        if header.motion_layer and not header.copy_mode:
            raise ValueError("a file with the motion layer needs copy_mode")
        if {K_MOTION_LAYER, K_SECTIONS} & set(header.extra):
            raise ValueError("header extra keys 16 and 17 are defined fields in a version 4.0 file")
    if major == 5 and not header.motion_residual:
        raise ValueError("a version 5.0 file needs motion_residual (header key 18): write 4.0 without it")
    if major >= 5 and K_MOTION_RESIDUAL in header.extra:
        raise ValueError(f"header extra key 18 is a defined field in a version {major}.0 file")
    if major >= 7 and K_MOTION_BENDS in header.extra:
        raise ValueError(f"header extra key 19 is a defined field in a version {major}.0 file")
    if major >= 8 and K_CONDITIONAL_CODER in header.extra:
        raise ValueError(f"header extra key 20 is a defined field in a version {major}.0 file")
    if major >= 10 and {K_NETWORK_FLOAT, K_INTRA_CODER} & set(header.extra):
        raise ValueError(f"header extra keys 21 and 22 are defined fields in a version {major}.0 file")
