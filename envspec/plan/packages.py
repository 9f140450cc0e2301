"""The distribution's package manager: every command a step needs to install system packages.

Steps ask `package_manager(family, cache)` for the object (the plan asks it for its BuildKit
cache mounts) and never spell apt themselves, so
another family (dnf on Rocky Linux/UBI) is one more class with the same methods, registered in
_FOR_FAMILY; no step and no template changes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

from envspec.catalog import Family
from envspec.plan.steps import Command, Run, run, sh
from envspec.resolve.model import AptRepo


class PackageManager(Protocol):
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


_SOURCES = "/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources"
_KEYRINGS = "/etc/apt/keyrings"
_INSTALL = "apt-get install -y --no-install-recommends"
_ARMORED = "'BEGIN PGP PUBLIC KEY BLOCK'"  # the armor header line of an exported public key


@dataclass(frozen=True)
class Apt:
    """apt (Debian, Ubuntu). With BuildKit cache mounts the downloads stay in the cache;
    without them every layer cleans up after itself, so no index or .deb lands in the image."""

    family: Family
    cache: tuple[str, ...] = ()  # cache_mounts() under BuildKit; none for the classic builder

    def cache_mounts(self) -> tuple[str, ...]:
        # sharing=locked: concurrent builds would otherwise fight over apt's lock files there
        return ("type=cache,target=/var/cache/apt,sharing=locked",
                "type=cache,target=/var/lib/apt/lists,sharing=locked")

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


_FOR_FAMILY: dict[Family, type[Apt]] = {"debian": Apt, "ubuntu": Apt}


def package_manager(family: Family, cache: tuple[str, ...] = ()) -> PackageManager:
    return _FOR_FAMILY[family](family, cache)
