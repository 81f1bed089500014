"""A local smart-HTTP git server (dulwich's WSGI application) behind basic authentication."""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from dulwich.repo import Repo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain

USER, TOKEN = "alice", "tok-3f9a-delivery-secret"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_args) -> None:
        pass


@contextlib.contextmanager
def serve_git(folder: Path) -> Iterator[tuple[str, Repo]]:
    """Serve a new bare repository on loopback; yield its URL and the repository."""
    repo = Repo.init_bare(str(folder / "team.git"), mkdir=True)
    app = make_wsgi_chain(DictBackend({"/": repo}))
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()

    def auth(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b""]
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, auth, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", repo
    finally:
        server.shutdown()
        repo.close()
