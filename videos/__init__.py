"""Sample videos and HLS segment cutting (``python -m videos``)."""
