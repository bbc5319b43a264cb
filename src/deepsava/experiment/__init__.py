"""Experiments: the config schema, the plan of cells and batches, the runner, the result store, sharding."""
