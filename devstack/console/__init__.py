"""``python -m devstack console``: a review console in the browser for the local stack or a deployment.

- :mod:`devstack.console.data`: everything the console reads and does (the only data access);
- :mod:`devstack.console.app`: the Flask app (pages, JSON endpoints, security headers) and its waitress server.
"""
