"""The .vqv container: header, GOP chunks and index to bytes and back (no torch)."""
