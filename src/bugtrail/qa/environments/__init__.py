"""QA test environments: choose a plan (recorded | configured | detected | default), build and cache it."""
