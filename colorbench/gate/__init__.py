"""`colorbench check`, the CI gate: evaluate a checkpoint and compare its tracked metrics (`keys`) with a
committed reference (`check`)."""
