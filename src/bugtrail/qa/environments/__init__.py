"""Test environments for QA: choose a plan (recorded | configured | detected | default), build and cache its image."""
