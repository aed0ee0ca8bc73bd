"""Queue and workers: dispatch (RQ or in-process), the job function, the reconciler."""
