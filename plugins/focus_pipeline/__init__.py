"""Shared code of the FOCUS billing pipeline DAGs: configuration, staging, validation, detections."""
