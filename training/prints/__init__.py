"""Prints for designs: textures, the print graph, its export, evaluation and contact sheets (see docs/prints.md)."""
