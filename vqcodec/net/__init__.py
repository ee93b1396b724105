"""The network: the MS-VQ-VAE (model.py), its residual quantisers, spatial tiling and the linear (PCA) start."""
