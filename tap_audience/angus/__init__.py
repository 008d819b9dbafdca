"""Angus.ai Data API: camera audience analytics."""
