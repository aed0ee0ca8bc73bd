"""The simulated judge's model name, apart from the simulator: the simulator lists it, and the
dashboard marks verdicts of judges configured with it without importing the simulator."""

MODEL_NAME = "simulated-judge"
"""The model the simulator lists; any name is accepted on the judge routes."""
