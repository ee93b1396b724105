"""The `vqv` command line: parses arguments, prints reports, sets exit codes (the work lives in vqcodec)."""
