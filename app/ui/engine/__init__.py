"""The engine thread and its GUI-thread face: worker, controller, per-request handles."""
