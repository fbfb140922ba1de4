"""The background worker: a job registry (`jobs.py`) and the polling loop (`runner.py`)."""
