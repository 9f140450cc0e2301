"""A small Docker Registry HTTP API v2 client (stdlib only).

Enough to ask a registry which tags a repository has and which digest a tag points to, with
anonymous bearer-token auth: a 401 carrying `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
is answered by fetching a token from the realm and retrying once. Every failure surfaces as a
`RegistryError`; urllib's own exceptions never leak out.

Why not a maintained client (weighed 2026-12): envspec needs two read-only calls (tag list, tag
→ digest, preferring the multi-arch index digest) with anonymous bearer tokens.
- python-dxf (12.x, V2 only, maintained) fits best, but pulls in requests and jwcrypto (thus
  cryptography) for two HEAD/GET calls, and its digest call asks for single-image manifest types
  by default, where `FROM image@…` should pin the index;
- oras (oras-py, 0.2.x, pre-1.0) targets pushing/pulling OCI artifacts, depends on requests and
  jsonschema, and its API still changes between minor releases;
- docker-registry-client (0.5.2, last released 2017) and its fork dreg-client speak schema-1
  era manifests and document no anonymous token flow.
Each would still need its requests/HTTP errors mapped to RegistryError. This module stays: it is
small, stdlib-only (no import cost for `lock`), and tested against a local HTTP server and the
real docker-registry (tests/unit/test_registry.py, tests/integration/test_lock_refresh.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message

from envspec.errors import EnvspecError, ExitCode

DOCKER_HUB_REGISTRY = "https://registry-1.docker.io"
DEFAULT_TIMEOUT_S = 20.0
MAX_BODY_BYTES = 16 * 1024 * 1024

# Most specific first: a multi-arch index digest is what `FROM image@sha256:…` should pin.
MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)

_REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "TAG_INVALID"}


class RegistryError(EnvspecError):
    """A registry request failed; `status` is the HTTP status when there was one."""

    exit_code = ExitCode.REGISTRY_FAILED

    def __init__(
        self, message: str, *, url: str, status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached, timed out, or answered with a server error."""


class RegistryAuthError(RegistryError):
    """The registry refused anonymous access (private repository, or an unknown auth scheme)."""


class RepositoryNotFoundError(RegistryError):
    """The repository does not exist in this registry."""


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Message
    body: bytes
    url: str

    def error_codes(self) -> set[str]:
        """The `errors[].code` values of a registry error body, if it has one."""
        try:
            doc = json.loads(self.body or b"{}")
        except ValueError:
            return set()
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if not isinstance(errors, list):
            return set()
        return {str(e.get("code")) for e in errors if isinstance(e, dict)}


def parse_bearer_challenge(header: str) -> dict[str, str] | None:
    """`Bearer realm="…",service="…",scope="…"` -> its parameters; None if not Bearer."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return dict(_CHALLENGE_PARAM_RE.findall(params))


def next_page_url(link_header: str | None, current_url: str) -> str | None:
    """The absolute `rel="next"` URL of an RFC 8288 `Link` header, if any."""
    match = _LINK_NEXT_RE.search(link_header or "")
    return urllib.parse.urljoin(current_url, match.group(1)) if match else None


@dataclass
class RegistryClient:
    """Anonymous, read-only client of one registry. Tokens are cached per scope."""

    base_url: str = DOCKER_HUB_REGISTRY
    timeout: float = DEFAULT_TIMEOUT_S
    page_size: int = 1000
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if urllib.parse.urlsplit(self.base_url).scheme not in ("http", "https"):
            message = f"not an http(s) registry URL: {self.base_url!r}"
            raise RegistryError(message, url=self.base_url)

    # public API
    def list_tags(self, repository: str) -> list[str]:
        """Every tag of `repository`, following `Link: <…>; rel="next"` pagination."""
        repo = self._repository(repository)
        url: str | None = f"{self.base_url}/v2/{repo}/tags/list?n={self.page_size}"
        tags: list[str] = []
        visited: set[str] = set()
        while url is not None and url not in visited:
            visited.add(url)
            response = self._request("GET", url, repo)
            if response.status == 404:
                raise RepositoryNotFoundError(f"no repository {repo!r}", url=url, status=404)
            self._raise_for_status(response)
            tags.extend(self._tags_of(response))
            url = next_page_url(response.headers.get("Link"), url)
        return tags

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        """The digest `tag` points to (index/list digest for multi-arch), or None if absent."""
        repo = self._repository(repository)
        if not _TAG_RE.match(tag):
            raise RegistryError(f"not a valid tag: {tag!r}", url=self.base_url)
        url = f"{self.base_url}/v2/{repo}/manifests/{tag}"
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        response = self._request("HEAD", url, repo, headers)
        if response.status == 200 and response.headers.get("Docker-Content-Digest"):
            return str(response.headers["Docker-Content-Digest"])
        if response.status not in (200, 405):  # some registries refuse HEAD
            return self._digest_or_none(response)
        return self._digest_or_none(self._request("GET", url, repo, headers))

    # helpers
    def _repository(self, repository: str) -> str:
        if not _REPOSITORY_RE.match(repository):
            raise RegistryError(f"not a valid repository name: {repository!r}", url=self.base_url)
        if self.base_url == DOCKER_HUB_REGISTRY and "/" not in repository:
            return f"library/{repository}"  # Docker Hub's official images
        return repository

    def _digest_or_none(self, response: _Response) -> str | None:
        if response.status == 404 or response.error_codes() & _NOT_FOUND_CODES:
            return None
        self._raise_for_status(response)
        digest = response.headers.get("Docker-Content-Digest")
        return str(digest) if digest else "sha256:" + hashlib.sha256(response.body).hexdigest()

    @staticmethod
    def _tags_of(response: _Response) -> list[str]:
        try:
            doc = json.loads(response.body)
        except ValueError as err:
            raise RegistryError(f"tag list is not JSON: {err}", url=response.url) from err
        tags = doc.get("tags") if isinstance(doc, dict) else None
        if tags is None:
            return []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise RegistryError("tag list has an unexpected shape", url=response.url)
        return tags

    @staticmethod
    def _raise_for_status(response: _Response) -> None:
        status, url = response.status, response.url
        if 200 <= status < 300:
            return
        if status == 429:
            hint = "wait, or point envspec at a registry mirror"
            raise RegistryError("rate limited by the registry", url=url, status=status, hint=hint)
        if status >= 500:
            raise RegistryUnavailableError(f"registry error {status}", url=url, status=status)
        if status in (401, 403):
            raise RegistryAuthError(f"access denied ({status})", url=url, status=status)
        raise RegistryError(f"unexpected HTTP status {status}", url=url, status=status)

    def _request(
        self, method: str, url: str, repo: str, headers: Mapping[str, str] | None = None
    ) -> _Response:
        """Send once; on a Bearer challenge fetch a token for it and send once more."""
        scope = f"repository:{repo}:pull"
        response = self._send(method, url, headers, self._tokens.get(scope))
        if response.status != 401:
            return response
        challenge = parse_bearer_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None or "realm" not in challenge:
            raise RegistryAuthError(
                "registry wants credentials; only anonymous bearer tokens are supported",
                url=url,
                status=401,
            )
        self._tokens[scope] = self._fetch_token(challenge, scope)
        response = self._send(method, url, headers, self._tokens[scope])
        if response.status == 401:
            raise RegistryAuthError("anonymous token was refused", url=url, status=401)
        return response

    def _fetch_token(self, challenge: Mapping[str, str], scope: str) -> str:
        params = {"scope": challenge.get("scope", scope)}
        if "service" in challenge:
            params["service"] = challenge["service"]
        realm = challenge["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryAuthError(f"token realm is not http(s): {realm!r}", url=realm)
        sep = "&" if urllib.parse.urlsplit(realm).query else "?"
        url = f"{realm}{sep}{urllib.parse.urlencode(params)}"
        response = self._send("GET", url, None, None)
        if response.status in (401, 403):
            raise RegistryAuthError(
                f"no anonymous access to {scope}", url=url, status=response.status,
                hint="the repository may be private or not exist",
            )
        self._raise_for_status(response)
        try:
            doc = json.loads(response.body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError) as err:
            raise RegistryAuthError("token endpoint did not return JSON", url=url) from err
        if not isinstance(token, str) or not token:
            raise RegistryAuthError("token endpoint returned no token", url=url)
        return token

    def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, token: str | None
    ) -> _Response:
        request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
        if token:
            # unredirected: the token must not follow a redirect to a blob CDN
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as raw:
                return _Response(raw.status, raw.headers, raw.read(MAX_BODY_BYTES), url)
        except urllib.error.HTTPError as err:
            with err:
                body = err.read(MAX_BODY_BYTES) if err.fp is not None else b""
                return _Response(err.code, err.headers, body, url)
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise RegistryUnavailableError(
                f"cannot reach the registry: {reason}", url=url,
                hint="check the network, proxy settings, or the registry URL",
            ) from err
