"""Step builders for the operating system's layers: environment, CA certificates, system
packages, compilers, the non-root user, and the CA clean-up."""

from __future__ import annotations

import shlex
from pathlib import Path

from envspec.plan.packages import package_manager
from envspec.plan.steps import Context, ContextFile, Copy, Env, Step, User, run, sh
from envspec.resolve.model import Resolved

CA_DIR = "/usr/local/share/ca-certificates/envspec"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
ROOT = "0:0"
_CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
                 "NODE_EXTRA_CA_CERTS")


def installs_ca_certificates(r: Resolved, cli_certs: tuple[Path, ...]) -> bool:
    """Whether the build adds CA certificates: from the spec or the command line. Every step
    that depends on it asks this, never the files an earlier step happened to add."""
    return bool(r.spec.build.ca_certificates or cli_certs)


def env(r: Resolved, ctx: Context) -> list[Step]:
    pairs = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if r.python is not None:
        pairs |= {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if not ctx.cache.pip:  # keeps pip's cache out of layers, also in the spec's run steps
            pairs["PIP_NO_CACHE_DIR"] = "1"
    pairs |= dict(r.env)
    return [Step("env", "environment", (Env(pairs),))]


def ca_certificates(r: Resolved, ctx: Context) -> list[Step]:
    if not installs_ca_certificates(r, ctx.certs):
        return []
    sources = [(r.spec_dir / rel, False) for rel in r.spec.build.ca_certificates]
    sources += [(path, True) for path in ctx.certs]
    for index, (path, from_cli) in enumerate(sources):
        # update-ca-certificates wants .crt; the number keeps the order and the names unique
        name = f"ca-certificates/{index:02d}-{path.stem}.crt"
        ctx.files[name] = ContextFile(source=path, outside_allowed=from_cli)
    return [Step("ca_certificates", "extra CA certificates (before any download)", (
        Copy("ca-certificates/", f"{CA_DIR}/"),
        run("mkdir -p /etc/ssl/certs", f"cat {CA_DIR}/*.crt >> {CA_BUNDLE}"),
        Env(dict.fromkeys(_CA_VARIABLES, CA_BUNDLE)),
    ))]


def apt_mirror(r: Resolved, ctx: Context) -> list[Step]:
    if r.apt.mirror is None:
        return []
    manager = package_manager(r.base.distro.family)  # no cache mounts: it downloads nothing
    return [Step("apt_mirror", "apt mirror",
                 (manager.use_mirror(r.apt.mirror, r.apt.security_mirror),))]


def apt(r: Resolved, ctx: Context) -> list[Step]:
    if not r.apt.packages and not r.apt.repositories:
        return []
    # The bundle gains the extra certificates only once the ca-certificates package is in.
    then = (sh("update-ca-certificates"),) if installs_ca_certificates(r, ctx.certs) else ()
    manager = package_manager(r.base.distro.family, ctx.cache.system)
    return [Step("apt", "apt packages",
                 (manager.install(r.apt.packages, r.apt.repositories, then),))]


def compilers(r: Resolved, ctx: Context) -> list[Step]:
    if r.gcc is None:
        return []
    # Links in /usr/local/bin win over /usr/bin on PATH without touching files apt owns.
    links = [f"ln -sf /usr/bin/{tool}-{r.gcc} /usr/local/bin/{name}"
             for tool, name in (("gcc", "gcc"), ("g++", "g++"), ("gcc", "cc"), ("g++", "c++"))]
    return [Step("compilers", f"compilers: gcc {r.gcc} as the default",
                 (run(*links, "gcc --version | head -n 1"),))]


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
    return [Step("user", f"non-root user {u.name}", (run(
        # Frees the uid first: ubuntu24.04 images ship a user `ubuntu` with uid 1000.
        f"if getent passwd {u.uid} >/dev/null; then userdel --remove "
        f'"$(getent passwd {u.uid} | cut -d: -f1)" 2>/dev/null || true; fi',
        f"if ! getent group {u.gid} >/dev/null; then groupadd --gid {u.gid} {name}; fi",
        f"useradd --no-log-init --create-home --uid {u.uid} --gid {u.gid} --shell /bin/bash {name}",
        f"mkdir -p {paths}",
        f"chown {u.uid}:{u.gid} {paths}",
    ),))]


def ca_cleanup(r: Resolved, ctx: Context) -> list[Step]:
    if r.spec.build.keep_ca_certificates or not installs_ca_certificates(r, ctx.certs):
        return []
    return [Step("ca_cleanup", "drop the build-only CA certificates", (
        User(ROOT),
        run(f"rm -rf {CA_DIR}", "update-ca-certificates --fresh"),
    ))]


def user_id(r: Resolved) -> str | None:
    """USER by number: runtimes that enforce non-root (Kubernetes' runAsNonRoot) can check it."""
    u = r.spec.user
    return f"{u.uid}:{u.gid}" if u else None
