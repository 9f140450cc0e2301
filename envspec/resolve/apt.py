"""System packages (the spec's `apt:` section, apt or dnf): the one package list, extra
repositories with their keys, and the mirror."""

from __future__ import annotations

from collections.abc import Iterable

from envspec.catalog import Catalog, Distro
from envspec.resolve.mirrors import mirror_url
from envspec.resolve.model import AptRepo, Collector, ResolvedApt
from envspec.spec import Apt, AptRepository

PPA_URI = "https://ppa.launchpadcontent.net/{owner}/{name}/ubuntu"
KEYSERVER = "https://keyserver.ubuntu.com/pks/lookup?op=get&search=0x{fingerprint}"


def ppas_in(apt: Apt) -> set[str]:
    return {r.ppa for r in apt.repositories if r.ppa}


def resolve_apt(
    apt: Apt, distro: Distro, extra_packages: Iterable[str], extra_ppas: Iterable[str],
    catalog: Catalog, out: Collector,
) -> ResolvedApt:
    if apt.mirror and not distro.public_mirrors:
        out.error("apt.mirror-none", f"{distro.id} has no public mirrors: its packages come "
                  "only from Red Hat's CDN", ("apt", "mirror"),
                  "drop `apt.mirror`, or use a Rocky Linux base, which has mirrors")
        return _resolved_packages(apt, extra_packages, None, None, ())
    mirror = mirror_url(apt.mirror, distro.family, catalog, out, ("apt", "mirror"))
    if distro.package_manager == "apt":
        mirror = _plain_http(apt.mirror, mirror)
    security = None
    if apt.mirror and "://" not in apt.mirror and distro.family == "debian":
        # Ubuntu's security archive is also under /ubuntu, so the one rewrite covers it.
        security = _plain_http(apt.mirror, mirror_url(apt.mirror, "debian-security", catalog,
                                                      out, ("apt", "mirror")))
    if mirror:
        out.decide("apt.mirror", mirror, "spec", f"replaces the {distro.family} archive in every "
                   f"{distro.sources_layout} sources file")
    repos = [_repo(r, i, distro, catalog, out) for i, r in enumerate(apt.repositories)]
    user_ppas = ppas_in(apt)
    repos += [_ppa(p, distro, catalog, out, ("apt",)) for p in extra_ppas if p not in user_ppas]
    return _resolved_packages(apt, extra_packages, mirror, security,
                              tuple(r for r in repos if r is not None))


def _resolved_packages(
    apt: Apt, extra: Iterable[str], mirror: str | None, security: str | None,
    repos: tuple[AptRepo, ...],
) -> ResolvedApt:
    return ResolvedApt(mirror, security, tuple(sorted({*apt.packages, *extra})), repos)


def _plain_http(ref: str | None, url: str | None) -> str | None:
    """Presets are used over http by apt: base images may lack CA certificates before the
    first apt-get, and apt checks every download against the archive's signed Release file,
    so TLS adds no integrity. A URL the user typed is kept exactly as given."""
    if url is None or ref is None or "://" in ref:
        return url
    return "http://" + url.removeprefix("https://")


def _repo(
    repo: AptRepository, index: int, distro: Distro, catalog: Catalog, out: Collector
) -> AptRepo | None:
    path = ("apt", "repositories", index)
    if distro.package_manager != "apt":
        out.error("apt.repository-os", f"`apt.repositories` are apt sources; {distro.id} "
                  f"installs with {distro.package_manager}", path,
                  "add the repository and install from it in `run:` steps, or use a Debian or "
                  "Ubuntu base")
        return None
    if repo.ppa:
        return _ppa(repo.ppa, distro, catalog, out, path)
    assert repo.url is not None and repo.key_url is not None  # guaranteed by the model
    name = "envspec-" + "".join(c if c.isalnum() else "-" for c in repo.url.split("://")[1])
    suite = repo.suite or distro.codename
    return AptRepo(name.strip("-")[:60], repo.url, suite, tuple(repo.components), repo.key_url)


def _ppa(
    ppa: str, distro: Distro, catalog: Catalog, out: Collector, path: tuple[str | int, ...]
) -> AptRepo | None:
    if distro.family != "ubuntu":
        out.error("apt.ppa-os", f"PPAs are built for Ubuntu; {distro.id} cannot use {ppa}", path,
                  "use a `url:` repository made for Debian, or an Ubuntu base")
        return None
    known = catalog.ppa(ppa)
    if known is None:
        out.error("apt.ppa-key", f"envspec does not know the signing key of PPA {ppa}", path,
                  "give it as `url:` + `key_url:` (the key's URL from the PPA's Launchpad page)")
        return None
    owner, name = ppa.split("/")
    out.decide(f"apt.repositories.{ppa}", f"ppa:{ppa}", "catalog",
               f"key {known.fingerprint[-16:]} pinned by fingerprint")
    return AptRepo(f"ppa-{owner}-{name}", PPA_URI.format(owner=owner, name=name),
                   distro.codename, ("main",), KEYSERVER.format(fingerprint=known.fingerprint))
