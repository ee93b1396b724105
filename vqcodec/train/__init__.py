"""Training: settings and presets, the loop, losses, the open corpus and the clip dataset."""
