"""Running a sweep: executors, child processes, estimates, the result store and the provenance it is keyed on."""
