"""Entropy coding, no network: rANS over integer tables, the priors that make those tables, and their blob format."""
