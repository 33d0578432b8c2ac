"""The evaluation stage: run each model over a dataset's test images and write per-image records.

`runner.run_evaluation` is the entry point (resolve data and checkpoints, run the `engine`, cache in
`chunks`, merge into the run folder); `records` is the only thing protocols and reports read.
"""
