"""The model directory (the seed's contract) and the tool that makes it: ``python -m model``."""
