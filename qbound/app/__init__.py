"""The application layer: the ``qbound`` command, ``qbound verify`` and its report, and benchmarks.

Nothing in :mod:`qbound.numeric`, :mod:`qbound.proofs` or :mod:`qbound.bounds` imports this
package; it composes them. Subpackages: :mod:`qbound.app.commands` (one module per group of
subcommands), :mod:`qbound.app.verify` (planning, running and reporting ``qbound verify``),
:mod:`qbound.app.bench` (``qbound bench``: ratios against reference libraries, measured in one run).
"""
