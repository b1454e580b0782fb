"""turbojwt's benchmark harness (behind ``turbojwt bench``): the same decode and encode
calls timed across the Python JWT libraries, each checked for correctness first, against
the bare signature-verification floor, interleaved, with a table, JSON and a chart.

Modules: ``material`` (keys, tokens, forgeries), ``adapters`` (one per library: how it
decodes and encodes), ``harness`` (checks, calibration, interleaved rounds, statistics),
``report`` (Markdown, JSON, machine description) and ``plot`` (the chart). Nothing in the
library imports this package.
"""
