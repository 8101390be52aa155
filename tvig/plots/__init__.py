"""Figures (matplotlib); every function returns a Figure. One module per topic:

- ``common``: image grids, atomic figure saving
- ``prompting``: prompt ranking bar chart, WordNet relation graph
- ``generation``: reconstructions, mu/sigma heat maps, samples at sigma scales, loss curves
- ``integration``: round galleries, score terms over rounds, mu/sigma drift
- ``detection``: baseline vs +generated vs +augmentation, qualitative grids, gain scatter plots
- ``method``: the three-module figure of the docs
"""
