"""turbojwt's benchmark harness (behind ``turbojwt bench``): the same decode and encode
calls timed across the Python JWT libraries, each checked for correctness first, against
the bare signature-verification floor, interleaved, with a table, JSON and a chart.

Modules: ``material`` (keys, tokens, forgeries), ``adapters`` (one per library: how it
decodes and encodes), ``harness`` (correctness gates, calibration, interleaved rounds,
statistics), ``floors`` (the bare signature checks every decode row is measured against),
``run`` (the rows and the run), ``report`` (Markdown, JSON, machine description), ``plot``
(the chart), ``compat`` (accept/refuse verdicts against PyJWT's) and ``selfcheck``. The
scripts in the repository's ``benchmarks/`` folder use this toolkit too. Nothing in the
library imports this package.
"""
