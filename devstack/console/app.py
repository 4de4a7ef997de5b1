"""The console's web app (Flask + Jinja2 templates; Plotly.js draws the charts; waitress serves it).

Pages are HTML shells rendered with Jinja2's autoescaping; their tables and
charts are filled in the browser from the JSON endpoints under ``/api/`` and
refreshed by polling, so new segments, executions and dead letters appear
without a reload. Scripts only set text (``textContent``), never HTML.

Safe by default:

- served on 127.0.0.1 only, and only to requests whose ``Host`` is that
  address or ``localhost`` (``TRUSTED_HOSTS``: no DNS rebinding);
- a Content-Security-Policy allows scripts from the console itself only (no
  inline script), media and images from the console and the stack's S3 only;
- the one state-changing action (redrive) is a POST with a CSRF token
  (Flask-WTF), and the session cookie is ``SameSite=Strict`` and ``HttpOnly``;
- media are presigned GET URLs that expire within minutes; no page carries a
  secret key.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file, url_for
from flask_wtf.csrf import CSRFProtect

from devstack.console.data import PRESIGN_SECONDS, ConsoleData

PLOTLY_JS = os.path.join(os.path.dirname(__import__("plotly").__file__), "package_data", "plotly.min.js")
#: How often pages ask for fresh data, in milliseconds.
POLL_MS = 1500


def _s3_origin(info: dict[str, Any]) -> str:
    """Where presigned URLs point: the local S3 endpoint, or AWS's S3 hosts."""
    if info.get("endpoint_url"):
        parts = urlsplit(info["endpoint_url"])
        return f"{parts.scheme}://{parts.netloc}"
    return "https://*.amazonaws.com"


def create_app(data: ConsoleData) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),  # per process: tokens die with the server
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=3600,
        TRUSTED_HOSTS=["127.0.0.1", "localhost"],
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    CSRFProtect(app)
    media = _s3_origin(data.info)
    policy = (
        "default-src 'none'; script-src 'self'; connect-src 'self'; "
        # Plotly sets style attributes on the elements it draws.
        "style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: {media}; media-src {media}; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.template_filter("pretty")
    def pretty(value: Any) -> str:
        """JSON as indented text (autoescaped by the template like any string)."""
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str)

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "poll_ms": POLL_MS,
            "where": "local stack" if data.local else f"AWS ({data.info.get('region')})",
            "presign_seconds": PRESIGN_SECONDS,
        }

    # ---- pages ---------------------------------------------------------------------------------
    @app.get("/")
    def streams_page():
        return render_template("streams.html", page="streams")

    @app.get("/stream")
    def stream_page():
        return render_template("stream.html", page="streams", stream_id=_required("id"))

    @app.get("/executions")
    def executions_page():
        return render_template("executions.html", page="executions")

    @app.get("/execution")
    def execution_page():
        return render_template("execution.html", page="executions", execution=data.execution(_required("arn")))

    @app.get("/dead-letters")
    def dead_letters_page():
        return render_template("dead_letters.html", page="dead-letters")

    @app.post("/dead-letters/redrive")
    def redrive():
        started = data.start_redrive(request.form.get("execution_arn") or None)
        return redirect(url_for("dead_letters_page", redrive="started" if started else "busy"), code=303)

    @app.get("/static/plotly.min.js")
    def plotly_js():
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400)

    # ---- JSON ----------------------------------------------------------------------------------
    @app.get("/api/streams")
    def api_streams():
        return jsonify(streams=data.streams())

    @app.get("/api/stream")
    def api_stream():
        return jsonify(data.timeline(_required("id")))

    @app.get("/api/executions")
    def api_executions():
        return jsonify(executions=data.executions())

    @app.get("/api/dead-letters")
    def api_dead_letters():
        return jsonify(data.dead_letters())

    return app


def _required(name: str) -> str:
    """A query parameter the page cannot do without: 400 when it is missing or empty."""
    value = request.args.get(name)
    if not value:
        abort(400)
    return value


def serve(data: ConsoleData, port: int = 8008, threads: int = 8):
    """A waitress server for the console on 127.0.0.1 (``port=0``: any free port); call ``.run()``."""
    from waitress import create_server

    return create_server(create_app(data), host="127.0.0.1", port=port, threads=threads, ident="devstack-console")
