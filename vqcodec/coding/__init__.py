"""Frames <-> codes <-> chunks: GOPs, the encoder's decisions, the GOP payload walk, the quality ladder, the enhancement layer."""
