"""Exploration analysis: what visitors did at the booth, from exported capture-log bundles.

    fse-analyze pull-1/ pull-2.tar --out report/      # map.png, index.html, summary.json

Runs on an analyst's machine with the [analysis] extra (umap-learn, bokeh, pillow); uses the ONNX
models through kiosk.models (onnxruntime), never torch. See docs/analysis.md.
"""
