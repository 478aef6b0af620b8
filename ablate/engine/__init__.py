"""Training and evaluation: the runner (one run, resumable, recorded) and the tasks it drives."""
