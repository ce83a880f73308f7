"""A tiny imitation of the Hugging Face Hub's file API, on 127.0.0.1.

It answers what `huggingface_hub` (`model_info`, `list_repo_files`,
`hf_hub_download`, `snapshot_download`) asks for:

- `GET /api/models/ORG/NAME[/revision/REV]`: `{"id", "sha", "siblings"}`;
- `GET /api/models/ORG/NAME/tree/REV`: the files, with `oid`, `size` and
  `lfs` for weights;
- `HEAD`/`GET /ORG/NAME/resolve/REV/FILE`: the file, with `X-Repo-Commit`,
  `ETag`, `X-Linked-Etag`/`X-Linked-Size` (weights) and `Content-Length`;
- 404 with `X-Error-Code: RepoNotFound`, `RevisionNotFound` or
  `EntryNotFound` otherwise.

Every request is recorded as `(method, path)` in `hub.requests`.
"""

import hashlib
import http.server
import json
import threading
from urllib.parse import unquote
from urllib.parse import urlsplit


class FakeRepo:
    """Commits of one repository: `{sha: {filename: bytes}}` and refs."""

    def __init__(self):
        self.commits = {}
        self.refs = {}

    def add_commit(self, files, refs=()):
        digest = hashlib.sha1()
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha1(files[name]).digest())
        digest.update(str(len(self.commits)).encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        for ref in refs:
            self.refs[ref] = sha
        return sha

    def resolve(self, revision):
        if revision in self.commits:
            return revision
        return self.refs.get(revision)


def _is_lfs(name):
    return name.endswith((".safetensors", ".bin"))


class _Handler(http.server.BaseHTTPRequestHandler):
    hub = None  # set per server class

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, body=b"", headers=None, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, code, message, commit=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        if commit:
            headers["X-Repo-Commit"] = commit
        body = json.dumps({"error": message}).encode()
        self._send(404, body, headers)

    def _route(self):
        path = urlsplit(self.path).path
        self.hub.record(self.command, path)
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) == 4:
            return self._api("/".join(parts[2:4]), "revision", "main")
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo_id, kind, revision = "/".join(parts[2:4]), parts[4], parts[5]
            return self._api(repo_id, kind, revision)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id, revision = "/".join(parts[:2]), parts[3]
            return self._file(repo_id, revision, "/".join(parts[4:]))
        return self._error("RepoNotFound", "unknown route")

    def _repo_commit(self, repo_id, revision):
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error("RepoNotFound", f"Repository {repo_id} not found")
            return None, None
        commit = repo.resolve(revision)
        if commit is None:
            self._error("RevisionNotFound", f"Invalid rev id: {revision}")
            return None, None
        return repo, commit

    def _api(self, repo_id, kind, revision):
        repo, commit = self._repo_commit(repo_id, revision)
        if repo is None:
            return
        files = repo.commits[commit]
        if kind == "revision":
            body = {
                "id": repo_id,
                "sha": commit,
                "private": False,
                "siblings": [{"rfilename": name} for name in sorted(files)],
            }
        elif kind == "tree":
            body = []
            for name in sorted(files):
                data = files[name]
                entry = {
                    "type": "file",
                    "path": name,
                    "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest(),
                }
                if _is_lfs(name):
                    entry["lfs"] = {
                        "oid": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": 134,
                    }
                body.append(entry)
        else:
            return self._error("RepoNotFound", "unknown api")
        self._send(200, json.dumps(body).encode())

    def _file(self, repo_id, revision, name):
        repo, commit = self._repo_commit(repo_id, revision)
        if repo is None:
            return
        data = repo.commits[commit].get(name)
        if data is None:
            return self._error("EntryNotFound", f"{name} not found", commit)
        headers = {"X-Repo-Commit": commit}
        if _is_lfs(name):
            etag = hashlib.sha256(data).hexdigest()
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(len(data))
        else:
            etag = hashlib.sha1(data).hexdigest()
        headers["ETag"] = f'"{etag}"'
        self._send(200, data, headers, "application/octet-stream")

    def do_GET(self):
        self._route()

    def do_HEAD(self):
        self._route()


class FakeHub:
    """A running fake hub. `url`, `repos`, `requests`; `stop()` ends it."""

    def __init__(self):
        self.repos = {}
        self.requests = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"hub": self})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, method, path):
        with self._lock:
            self.requests.append((method, path))

    def clear(self):
        with self._lock:
            self.requests.clear()

    def file_requests(self, name=None, method="GET"):
        """The recorded `/resolve/` requests (of `name`, with `method`)."""
        with self._lock:
            return [
                path for m, path in self.requests
                if m == method and "/resolve/" in path
                and (name is None or path.endswith("/" + name))
            ]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
