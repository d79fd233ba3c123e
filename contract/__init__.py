"""The contract between training, the kiosk and the analysis: small, numpy-only, imported by all three.

What one side writes and another reads is defined here once:
- `contract.space`: the CPPN's coordinate grid, the latent size and the hyperspace jump.
- `contract.models`: the models' files, input/output names, shapes and dtypes (exporter and loaders).
- `contract.capture_schema`: the capture log's SQLite schema, its migrations and its readers.
- `contract.fashion_mnist`: the Fashion-MNIST reader (IDX files, class names, the data set's checksum).
- `contract.mapfile`: the reference map file (`fse-analyze fit-map` writes it, the kiosk and every report read it).

Rules (checked by ../shared/tools/import-rules and tests/test_layout.py): this package imports
numpy and the standard library only, never torch, pygame, onnxruntime, UMAP or another package of
this repository. The kiosk never imports training/ or analysis/; analysis never imports training/.
"""
