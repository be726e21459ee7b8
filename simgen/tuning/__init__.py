"""``simgen tune``: fit a scene's tunable fields to a few real photos (gap measure + Optuna)."""
