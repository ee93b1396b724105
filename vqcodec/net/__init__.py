"""The network: the MS-VQ-VAE (model.py, config.py), its residual quantisers, spatial tiling and the linear (PCA) start."""
