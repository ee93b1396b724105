"""The `vqv` command line: parses arguments, prints reports, sets exit codes (the work lives in vqcodec)."""
import os

# Large tensors on transparent huge pages (PyTorch reads THP_MEM_ALLOC_ENABLE once, at its first
# allocation, which comes after this): a native-size run takes half the page faults, 10-17% less time
# at 320x240, with the same bytes and pixels (docs/speed.md). A value the user set is kept.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
