"""The distribution's package manager: every command a step needs to install system packages,
make a GCC the default and trust extra CA certificates.

Steps ask `package_manager(family, cache)` for the object (the plan asks it for its BuildKit
cache mounts and build arguments) and never spell apt or dnf themselves: `Apt` serves Debian and
Ubuntu, `Dnf` Rocky Linux and UBI, registered in _FOR_FAMILY; no step or template has an `if`
about the distribution.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

from envspec.catalog import Family
from envspec.plan.steps import Command, Env, Instruction, Run, run, sh
from envspec.resolve.model import AptRepo


@dataclass(frozen=True)
class TrustStore:
    """Where extra CA certificates go and the commands that make the system trust them."""

    anchors: str  # folder the certificates are copied into
    bundle: str  # the bundle tools are pointed at (SSL_CERT_FILE, PIP_CERT, ...)
    file_prefix: str  # of the copied files, so that the clean-up can find them
    add: tuple[str, ...]  # right after the copy, before any download
    after_install: tuple[str, ...]  # after the package install (ca-certificates may be new)
    remove: tuple[str, ...]  # the clean-up (keep_ca_certificates: false)


class PackageManager(Protocol):
    @property
    def name(self) -> str:
        """In section titles: "apt packages", "dnf packages"."""
        ...

    @property
    def trust(self) -> TrustStore:
        """Where extra CA certificates go, and how they are trusted and removed."""
        ...

    def install(self, packages: tuple[str, ...], repositories: tuple[AptRepo, ...] = (),
                then: tuple[Command, ...] = ()) -> Run:
        """One layer: add `repositories`, install `packages`, run `then`, leave no index behind."""
        ...

    def use_mirror(self, mirror: str, security_mirror: str | None = None) -> Run:
        """Point the distribution's sources at a mirror (and its security updates at another)."""
        ...

    def cache_mounts(self) -> tuple[str, ...]:
        """BuildKit cache mounts keeping downloads and indexes between builds."""
        ...

    def build_args(self) -> tuple[str, ...]:
        """`ARG` lines every RUN needs (apt's non-interactive front end)."""
        ...

    def default_gcc(self, major: int, bin_dir: str | None) -> tuple[Instruction, ...]:
        """Make GCC `major` (installed in `bin_dir`, or /usr/bin) what gcc, g++, cc, c++ run."""
        ...


_SOURCES = "/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources"
_KEYRINGS = "/etc/apt/keyrings"
_INSTALL = "apt-get install -y --no-install-recommends"
_ARMORED = "'BEGIN PGP PUBLIC KEY BLOCK'"  # the armor header line of an exported public key
CA_DIR = "/usr/local/share/ca-certificates/envspec"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
_GCC_CHECK = "gcc --version | head -n 1"


@dataclass(frozen=True)
class Apt:
    """apt (Debian, Ubuntu). With BuildKit cache mounts the downloads stay in the cache;
    without them every layer cleans up after itself, so no index or .deb lands in the image."""

    family: Family
    cache: tuple[str, ...] = ()  # cache_mounts() under BuildKit; none for the classic builder
    name: str = "apt"
    # The bundle is appended to at once: a base image may lack the ca-certificates package
    # (and update-ca-certificates) until the apt layer installs it.
    trust: TrustStore = TrustStore(
        anchors=CA_DIR, bundle=CA_BUNDLE, file_prefix="",
        add=("mkdir -p /etc/ssl/certs", f"cat {CA_DIR}/*.crt >> {CA_BUNDLE}"),
        after_install=("update-ca-certificates",),
        remove=(f"rm -rf {CA_DIR}", "update-ca-certificates --fresh"),
    )

    def cache_mounts(self) -> tuple[str, ...]:
        # sharing=locked: concurrent builds would otherwise fight over apt's lock files there
        return ("type=cache,target=/var/cache/apt,sharing=locked",
                "type=cache,target=/var/lib/apt/lists,sharing=locked")

    def build_args(self) -> tuple[str, ...]:
        return ("DEBIAN_FRONTEND=noninteractive",)  # an ARG: it must not linger in the image

    def default_gcc(self, major: int, bin_dir: str | None) -> tuple[Instruction, ...]:
        # Links in /usr/local/bin win over /usr/bin on PATH without touching files apt owns.
        links = [f"ln -sf /usr/bin/{tool}-{major} /usr/local/bin/{name}"
                 for tool, name in (("gcc", "gcc"), ("g++", "g++"), ("gcc", "cc"), ("g++", "c++"))]
        return (run(*links, _GCC_CHECK),)

    def install(self, packages: tuple[str, ...], repositories: tuple[AptRepo, ...] = (),
                then: tuple[Command, ...] = ()) -> Run:
        commands = [*self._keep_downloads()]
        if repositories:
            commands += self._repository_tools()
            for repo in repositories:
                commands += self.add_repository(repo)
        commands += [self.update(), sh(_INSTALL, *packages), *then, *self._clean()]
        return run(*commands, mounts=self.cache)

    def update(self) -> Command:
        return sh("apt-get update")

    def add_repository(self, repo: AptRepo) -> tuple[Command, ...]:
        """The repository's signing key in its own keyring, and a source line that trusts only it.

        Keys come armored or binary; apt reads a `.asc` keyring as armored and a `.gpg` one as
        binary, so the downloaded bytes pick the extension (no gnupg needed in the image)."""
        key = f"{_KEYRINGS}/{repo.name}"
        # In double quotes for $ext: the URI, suite and components are validated, `$`-free words.
        line = f"deb [signed-by={key}.$ext] {repo.uri} {repo.suite} {' '.join(repo.components)}"
        return (sh(f"curl -fsSL {shlex.quote(repo.key_url)} -o {key}.key"),
                sh(f"if grep -q {_ARMORED} {key}.key; then ext=asc; else ext=gpg; fi"),
                sh(f'mv {key}.key "{key}.$ext"'),
                sh(f'echo "{line}" > /etc/apt/sources.list.d/{repo.name}.list'))

    def use_mirror(self, mirror: str, security_mirror: str | None = None) -> Run:
        """Rewrites classic sources.list and deb822 *.sources files alike, then fails the build
        if nothing changed (a silent no-op is the bug this step exists for)."""
        rewrites = [(f"/{self.family}", mirror)]
        if security_mirror:  # _uri_sed's boundary keeps /debian from matching it
            rewrites.insert(0, (f"/{self.family}-security", security_mirror))
        seds = "".join(f"-e {shlex.quote(_uri_sed(path, url))} " for path, url in rewrites)
        rewrite = (f"for f in {_SOURCES}; do \\\n"
                   f'      if [ -f "$f" ]; then sed -i -E {seds}"$f"; fi; \\\n'
                   "    done")
        check = (f"if ! grep -rqsF {shlex.quote(mirror)} /etc/apt/sources.list "
                 "/etc/apt/sources.list.d; then \\\n"
                 '      echo "envspec: no apt source matched; the mirror was not applied" >&2;'
                 " exit 1; \\\n"
                 "    fi")
        return run(rewrite, check)

    def _repository_tools(self) -> tuple[Command, ...]:
        return (self.update(), sh(f"{_INSTALL} ca-certificates curl"),
                sh(f"install -d -m 0755 {_KEYRINGS}"))

    def _keep_downloads(self) -> tuple[Command, ...]:
        if not self.cache:
            return ()
        # The official images delete downloaded .debs after install; keep them in the mount.
        return (sh("rm -f /etc/apt/apt.conf.d/docker-clean"),
                sh("echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";'"
                   " > /etc/apt/apt.conf.d/keep-cache"))

    def _clean(self) -> tuple[Command, ...]:
        if self.cache:
            return ()  # the cache mounts hold the lists and .debs outside the image
        return (sh("apt-get clean"), sh("rm -rf /var/lib/apt/lists/*"))


def _uri_sed(path: str, url: str) -> str:
    """A sed -E expression replacing any http(s) URI whose path ends in `path`.

    Matching on the path, not on a host name, catches whatever archive host the base image
    uses; the boundary (space or end of line) keeps /debian from matching /debian-security.
    """
    return f"s#https?://[^[:space:]]+{path}/?([[:space:]]|$)#{url}\\1#g"


_REPOS_DIR = "/etc/yum.repos.d"
# --allowerasing: EL9 images ship curl-minimal, which `dnf install curl` (conda needs curl) may
# only replace, not sit beside; without it dnf refuses the whole transaction.
_DNF_INSTALL = "dnf install -y --allowerasing --setopt=install_weak_deps=False --nodocs"
_ANCHORS = "/etc/pki/ca-trust/source/anchors"
# Rocky's repo files name the archive's root by the variable $contentdir ("pub/rocky") in a
# baseurl that is commented out while a mirrorlist is in force; mirrors serve that root.
_ROOT = "/[$]contentdir/"  # [$]: a literal $ that no reader takes for an expansion
_LISTS_OFF = "s/^(mirrorlist|metalink)=/#\\1=/"


@dataclass(frozen=True)
class Dnf:
    """dnf (Rocky Linux, UBI; dnf 4 on EL 8 and 9). Weak dependencies are skipped like apt's
    recommends; without BuildKit cache mounts each layer removes the metadata and packages."""

    family: Family
    cache: tuple[str, ...] = ()  # cache_mounts() under BuildKit; none for the classic builder
    repos_dir: str = _REPOS_DIR
    name: str = "dnf"
    # ca-certificates and update-ca-trust are in every EL image (dnf needs them), so the
    # certificates are trusted at once; update-ca-trust reads the anchors folder, not below it.
    trust: TrustStore = TrustStore(
        anchors=_ANCHORS, bundle="/etc/pki/tls/certs/ca-bundle.crt", file_prefix="envspec-",
        add=("update-ca-trust extract",), after_install=(),
        remove=(f"rm -f {_ANCHORS}/envspec-*", "update-ca-trust extract"),
    )

    def cache_mounts(self) -> tuple[str, ...]:
        return ("type=cache,target=/var/cache/dnf,sharing=locked",)

    def build_args(self) -> tuple[str, ...]:
        return ()

    def install(self, packages: tuple[str, ...], repositories: tuple[AptRepo, ...] = (),
                then: tuple[Command, ...] = ()) -> Run:
        if repositories:  # the resolver refuses apt sources on dnf distributions
            raise ValueError("dnf cannot add apt repositories")
        # keepcache: dnf deletes downloaded packages after a transaction unless told otherwise
        keep = " --setopt=keepcache=1" if self.cache else ""
        clean = () if self.cache else (sh("dnf clean all"), sh("rm -rf /var/cache/dnf"))
        return run(sh(_DNF_INSTALL + keep, *packages), *then, *clean, mounts=self.cache)

    def use_mirror(self, mirror: str, security_mirror: str | None = None) -> Run:
        """Points every baseurl under $contentdir at the mirror and comments out the
        mirrorlist/metalink lines of those files only (NVIDIA's cuda.repo is left alone), then
        fails the build if nothing changed. Security updates live in the same repositories."""
        seds = f"-e {shlex.quote(_LISTS_OFF)} -e {shlex.quote(_baseurl_sed(mirror))} "
        matches = f"grep -q {shlex.quote(_ROOT)} \"$f\""
        rewrite = (f"for f in {self.repos_dir}/*.repo; do \\\n"
                   f'      if {matches}; then sed -i -E {seds}"$f"; fi; \\\n'
                   "    done")
        check = (f"if ! grep -rqsF {shlex.quote(mirror)} {self.repos_dir}; then \\\n"
                 '      echo "envspec: no dnf repository matched; the mirror was not applied" >&2;'
                 " exit 1; \\\n"
                 "    fi")
        return run(rewrite, check)

    def default_gcc(self, major: int, bin_dir: str | None) -> tuple[Instruction, ...]:
        # What `scl enable gcc-toolset-N` does for compilers: its bin folder first on PATH
        # (gcc then also finds the toolset's as and ld). The system GCC needs nothing.
        first = (Env({"PATH": f"{bin_dir}:$PATH"}, expand=True),) if bin_dir else ()
        return (*first, run(_GCC_CHECK))


def _baseurl_sed(mirror: str) -> str:
    """A sed -E expression: `#baseurl=http://host/$contentdir/…` → `baseurl=<mirror>/…`."""
    return f"s#^\\#?baseurl=https?://[^[:space:]]+{_ROOT}#baseurl={mirror}/#"


_FOR_FAMILY: dict[Family, type[Apt] | type[Dnf]] = {
    "debian": Apt, "ubuntu": Apt, "rocky": Dnf, "ubi": Dnf}


def package_manager(family: Family, cache: tuple[str, ...] = ()) -> PackageManager:
    return _FOR_FAMILY[family](family, cache)
