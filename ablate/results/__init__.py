"""Run records (one atomic JSON file per run) and the reports built from them."""
