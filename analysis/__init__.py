"""Exploration analysis: what visitors did at the booth, from exported capture-log bundles.

    fse-analyze pull-1/ pull-2.tar --out report/      # index.html, map.png, summary.json, captures.csv
    fse-analyze fit-map --models onnx_models          # the reference map, once per model export

Runs on an analyst's machine with the [analysis] extra (bokeh, pillow, scipy; umap-learn for
fit-map and --refit); uses the ONNX models through kiosk.models (onnxruntime), never torch.
See docs/analysis.md.
"""
