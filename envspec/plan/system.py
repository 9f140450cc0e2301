"""Step builders for the operating system's layers: environment, CA certificates, system
packages, compilers, the non-root user, and the CA clean-up."""

from __future__ import annotations

import shlex
from pathlib import Path

from envspec.grammar import env_references
from envspec.plan.packages import CA_BUNDLE, CA_DIR, PackageManager, package_manager
from envspec.plan.steps import Context, ContextFile, Copy, Env, Step, User, run, sh
from envspec.resolve.env import LOCALE_ENV, PYTHON_ENV
from envspec.resolve.model import Resolved

__all__ = ["CA_BUNDLE", "CA_DIR", "ROOT"]  # Debian's trust store, named by tests and docs
ROOT = "0:0"
_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
                 "NODE_EXTRA_CA_CERTS")


def installs_ca_certificates(r: Resolved, cli_certs: tuple[Path, ...]) -> bool:
    """Whether the build adds CA certificates: from the spec or the command line. Every step
    that depends on it asks this, never the files an earlier step happened to add."""
    return bool(r.spec.build.ca_certificates or cli_certs)


def env(r: Resolved, ctx: Context) -> list[Step]:
    pairs = dict(LOCALE_ENV)
    if r.python is not None:
        pairs |= PYTHON_ENV
        if ctx.cache.pip:  # without the mount, keeps pip's cache out of layers (run steps too)
            del pairs["PIP_NO_CACHE_DIR"]
    pairs |= dict(r.env)
    return [Step("env", "environment", tuple(Env(group, expand=True) for group in _env_groups(pairs)))]


def _env_groups(pairs: dict[str, str]) -> list[dict[str, str]]:
    """Consecutive ENV instructions: Docker expands one ENV's values with the variables from
    before it, so a value referring to a key of the same group starts the next group."""
    groups: list[dict[str, str]] = [{}]
    for key, value in pairs.items():
        if any(name in groups[-1] for name in env_references(value)):
            groups.append({})
        groups[-1][key] = value
    return groups


def ca_certificates(r: Resolved, ctx: Context) -> list[Step]:
    if not installs_ca_certificates(r, ctx.certs):
        return []
    trust = _manager(r).trust
    sources = [(r.spec_dir / rel, False) for rel in r.spec.build.ca_certificates]
    sources += [(path, True) for path in ctx.certs]
    for index, (path, from_cli) in enumerate(sources):
        # update-ca-certificates wants .crt; the number keeps the order and the names unique
        name = f"ca-certificates/{trust.file_prefix}{index:02d}-{path.stem}.crt"
        ctx.files[name] = ContextFile(source=path, outside_allowed=from_cli)
    return [Step("ca_certificates", "extra CA certificates (before any download)", (
        Copy("ca-certificates/", f"{trust.anchors}/"),
        run(*trust.add),
        Env(dict.fromkeys(_CA_VARIABLES, trust.bundle)),
    ))]


def apt_mirror(r: Resolved, ctx: Context) -> list[Step]:
    if r.apt.mirror is None:
        return []
    manager = _manager(r)  # no cache mounts: it downloads nothing
    return [Step("apt_mirror", f"{manager.name} mirror",
                 (manager.use_mirror(r.apt.mirror, r.apt.security_mirror),))]


def apt(r: Resolved, ctx: Context) -> list[Step]:
    if not r.apt.packages and not r.apt.repositories:
        return []
    manager = _manager(r, ctx)
    # The bundle gains the extra certificates only once the ca-certificates package is in.
    after = manager.trust.after_install if installs_ca_certificates(r, ctx.certs) else ()
    then = tuple(sh(command) for command in after)
    return [Step("apt", f"{manager.name} packages",
                 (manager.install(r.apt.packages, r.apt.repositories, then),))]


def compilers(r: Resolved, ctx: Context) -> list[Step]:
    if r.gcc is None:
        return []
    bin_dir = r.base.distro.gcc_bin_dir_for(r.gcc)
    return [Step("compilers", f"compilers: gcc {r.gcc} as the default",
                 _manager(r).default_gcc(r.gcc, bin_dir))]


def user(r: Resolved, ctx: Context) -> list[Step]:
    u = r.spec.user
    if u is None:
        return []
    owned = [r.spec.workdir]
    if r.python is not None and r.python.provider != "image":  # the image's env stays root's
        owned.append(r.python.prefix)
        if r.python.conda is not None:
            owned.append(r.python.conda.base_prefix)
    paths = " ".join(shlex.quote(path) for path in owned)
    name = shlex.quote(u.name)
    groups = [f"if ! getent group {g} >/dev/null; then groupadd {g}; fi" for g in u.groups]
    member_of = f" --groups {','.join(u.groups)}" if u.groups else ""
    return [Step("user", f"non-root user {u.name}", (run(
        # Frees the uid first: ubuntu24.04 images ship a user `ubuntu` with uid 1000.
        f"if getent passwd {u.uid} >/dev/null; then userdel --remove "
        f'"$(getent passwd {u.uid} | cut -d: -f1)" 2>/dev/null || true; fi',
        f"if ! getent group {u.gid} >/dev/null; then groupadd --gid {u.gid} {name}; fi",
        *groups,
        f"useradd --no-log-init --create-home --uid {u.uid} --gid {u.gid}{member_of} "
        f"--shell /bin/bash {name}",
        *_sudoers(u.name, u.sudo),
        f"mkdir -p {paths}",
        f"chown {u.uid}:{u.gid} {paths}",
    ),))]


def _sudoers(name: str, sudo: bool) -> tuple[str, ...]:
    """Passwordless sudo in a drop-in file (0440, as sudo requires; the resolver adds the
    sudo package)."""
    if not sudo:
        return ()
    rule = shlex.quote(f"{name} ALL=(ALL) NOPASSWD:ALL")
    return (f"echo {rule} > /etc/sudoers.d/{name}", f"chmod 0440 /etc/sudoers.d/{name}")


def ca_cleanup(r: Resolved, ctx: Context) -> list[Step]:
    if r.spec.build.keep_ca_certificates or not installs_ca_certificates(r, ctx.certs):
        return []
    return [Step("ca_cleanup", "drop the build-only CA certificates", (
        User(ROOT),
        run(*_manager(r).trust.remove),
    ))]


def _manager(r: Resolved, ctx: Context | None = None) -> PackageManager:
    """The distribution's package manager, with BuildKit cache mounts when `ctx` has them."""
    return package_manager(r.base.distro.family, ctx.cache.system if ctx else ())


def user_id(r: Resolved) -> str | None:
    """uid:gid, by number (for COPY --chown)."""
    u = r.spec.user
    return f"{u.uid}:{u.gid}" if u else None


def run_as(r: Resolved) -> str | None:
    """USER by number: runtimes that enforce non-root (Kubernetes' runAsNonRoot) can check it.
    The uid alone when the user has supplementary groups: given `uid:gid`, Docker sets exactly
    that group and skips the user's groups in /etc/group."""
    u = r.spec.user
    if u is None:
        return None
    return str(u.uid) if u.groups else f"{u.uid}:{u.gid}"
