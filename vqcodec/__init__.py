"""vqv: a neural video codec."""
