"""Figures (matplotlib; every function returns a Figure). One module per topic:
``common`` (image grids), ``prompting`` (prompt ranking, WordNet relations)."""
