"""Prints for designs: textures, the print network, its training, evidence and export (see docs/prints.md)."""
