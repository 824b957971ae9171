"""Overlay files for the sast.* defect switches; never imported, only copied by source_tree.source."""
