"""The evaluation stage: run each model over a dataset's test images and write per-image records.

`runner.run_evaluation` is the entry point: `resolve` turns its RunConfig into the run's work, `evaluate` runs it
(the `engine` per batch, cached in `chunks`) and `run_writer` merges it into the run folder; `records` is the only
thing protocols and reports read.
"""
