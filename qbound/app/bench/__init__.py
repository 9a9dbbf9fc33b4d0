"""``qbound bench``: speed as ratios against reference libraries, measured in one run.

:mod:`.quantize` (rounding against ml_dtypes and gfloat), :mod:`.harness` (quantized optimizer
steps against numpy), :mod:`.prove` (the lemma suite), :mod:`.derive` (the derivations).
"""
