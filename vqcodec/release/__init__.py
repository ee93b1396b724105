"""Making a shipped model: `vqv ship`, `vqv train-prior`, their clips and measurements, the ladder, model info."""
