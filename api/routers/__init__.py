"""The API's routes, one module per area; each handler calls helios and nothing else."""
