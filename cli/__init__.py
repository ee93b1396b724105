"""The vqv command line."""
