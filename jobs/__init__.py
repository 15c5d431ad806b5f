"""The scheduler process: wires helios services to APScheduler jobs. Holds no business rule."""
