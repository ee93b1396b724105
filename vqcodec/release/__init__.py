"""Making a shipped model: `vqv ship`, `vqv train-prior`, prior and ladder fitting, model info."""
