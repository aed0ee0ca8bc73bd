"""People's labels: the queue that chooses which pairs they label, and recording the labels."""
