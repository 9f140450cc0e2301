"""python: interpreter, where packages go (never the OS Python: PEP 668), pip and conda config."""

from __future__ import annotations

from envspec.catalog import Catalog, CondaInstaller, Distro, major_minor
from envspec.resolve.framework import image_python, refuse_second_interpreter
from envspec.resolve.mirrors import mirror_url
from envspec.resolve.model import (
    Collector,
    PipInstall,
    ResolvedBase,
    ResolvedConda,
    ResolvedPython,
    Source,
)
from envspec.resolve.pip import resolve_pip_packages
from envspec.spec import Conda, Pip, Python

DEADSNAKES_PPA = "deadsnakes/ppa"
CONDA_BASE = "/opt/conda"
CONDA_ENV = "/opt/env"


def resolve_python(
    python: Python, base: ResolvedBase, catalog: Catalog, ppas: set[str], out: Collector
) -> tuple[ResolvedPython, tuple[str, ...], tuple[str, ...]]:
    """The resolved Python, plus the apt packages and PPAs it needs."""
    # A refused second interpreter is judged as the image's own from here on: one error, not
    # a cascade about the Python it would have installed.
    refused = refuse_second_interpreter(python, base, out)
    apt: tuple[str, ...] = ()
    needed_ppas: tuple[str, ...] = ()
    conda: ResolvedConda | None = None
    if python.provider == "image" or refused:
        version, interpreter, prefix = image_python(python, base, out)
        conda = _image_conda(python, prefix, base, catalog, out)
    elif python.provider == "conda":
        version, interpreter, prefix, conda = _conda(python, catalog, out)
        apt = ("ca-certificates", "curl", "bzip2")
    else:
        version, apt, needed_ppas = _system(python, base.distro, ppas, out)
        interpreter, prefix, conda = f"/usr/bin/python{version}", python.venv, None
    torch, installs, names = resolve_pip_packages(python, major_minor(version), base, catalog, out)
    resolved = ResolvedPython(
        provider=python.provider, version=version, interpreter=interpreter, prefix=prefix,
        conda=conda, pip_conf=_pip_conf(python.pip, catalog, out), torch=torch,
        pip_installs=installs, requirements=tuple(python.pip.requirements),
        constraints=tuple(python.pip.constraints), require_hashes=python.pip.require_hashes,
        package_names=names,
    )
    return resolved, (*apt, *_tools_for(installs, out)), needed_ppas


def _tools_for(installs: tuple[PipInstall, ...], out: Collector) -> tuple[str, ...]:
    """pip clones git+ requirements with the image's git."""
    if not any(i.requirement.kind == "vcs" for i in installs):
        return ()
    out.decide("apt.git", "git", "derived", "pip needs git to install the git+ requirements")
    return ("git",)


def _system(
    python: Python, distro: Distro, ppas: set[str], out: Collector
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    version = python.version or distro.default_python
    source: Source = "spec" if python.version else "default"
    if version != major_minor(version):
        out.error("python.version-patch", f"the system provider cannot pin Python {version}: "
                  f"{distro.id} ships one patch release of each Python it has",
                  ("python", "version"), f"write `{major_minor(version)}`, or use "
                  "`provider: conda`, which installs that exact patch")
        return version, (), ()
    if version == distro.default_python:
        out.decide("python.version", version, source, f"{distro.id}'s own python3")
        return version, distro.python_packages_for(version), ()
    packages = distro.python_packages_for(version)
    if version in distro.python_packages:
        out.decide("python.version", version, source, f"python{version} from {distro.id}'s archive")
        return version, packages, ()
    if distro.family == "ubuntu" and version in distro.deadsnakes_python:
        out.decide("python.version", version, source, f"python{version} from the deadsnakes PPA "
                   f"(added automatically; {distro.id} does not ship it)")
        return version, packages, (DEADSNAKES_PPA,)
    out.error("python.version", f"Python {version} is not available on {distro.id} "
              f"(it ships {', '.join((distro.default_python, *distro.python_packages))})",
              ("python", "version"), _python_hint(version, distro))
    return version, (), ()


def _python_hint(version: str, distro: Distro) -> str:
    hint = "use `provider: conda`, which installs any Python version"
    if distro.family == "ubuntu" and distro.deadsnakes_python:
        hint += f", or one the deadsnakes PPA has for {distro.id}: " + ", ".join(
            distro.deadsnakes_python)
    return hint


def _conda(
    python: Python, catalog: Catalog, out: Collector
) -> tuple[str, str, str, ResolvedConda]:
    settings = python.conda or Conda()
    defaults = catalog.conda_installer(settings.distribution)
    version = python.version or defaults.python
    out.decide("python.version", version, "spec" if python.version else "default",
               f"installed into the conda env {CONDA_ENV}")
    installer = _installer_url(settings, defaults, catalog, out)
    conda = ResolvedConda(
        installer_url=installer,
        installer_sha256=settings.installer_sha256,
        base_prefix=CONDA_BASE,
        condarc=_condarc(settings, catalog, out),
        environment_file=settings.environment,
        packages=tuple(settings.packages),
    )
    return version, f"{CONDA_ENV}/bin/python", CONDA_ENV, conda


def _image_conda(
    python: Python, prefix: str, base: ResolvedBase, catalog: Catalog, out: Collector
) -> ResolvedConda | None:
    """conda packages over an image: with the image's own conda, in its env (`prefix`)."""
    settings = python.conda
    if settings is None or python.provider != "image":
        return None
    if base.framework is not None and not base.framework.conda:
        out.error("python.image-no-conda", f"{base.image} has no conda to install conda "
                  "packages with", ("python", "conda"),
                  "install them with pip, or choose an image with conda (pytorch/pytorch, "
                  "continuumio/miniconda3, condaforge/miniforge3)")
    if not _interpreter_known(python, base):
        out.error("python.image-conda-where", f"envspec does not know where {base.image}'s "
                  "conda lives", ("python", "interpreter"),
                  "set `interpreter:` to the python of the image's conda env, e.g. "
                  "/opt/conda/bin/python")
    out.decide("python.conda", f"{prefix}/bin/conda", "derived", "the image's own conda")
    return ResolvedConda(
        installer_url=None, installer_sha256=None, base_prefix=prefix,
        condarc=_condarc(settings, catalog, out), environment_file=settings.environment,
        packages=tuple(settings.packages),
    )


def _interpreter_known(python: Python, base: ResolvedBase) -> bool:
    """Whether the image's interpreter is a known path (its env's bin/ holds conda)."""
    known = base.framework.python_path if base.framework else None
    return (python.interpreter or known) is not None


def _installer_url(
    settings: Conda, defaults: CondaInstaller, catalog: Catalog, out: Collector
) -> str:
    if settings.installer_url:
        out.decide("python.conda.installer", settings.installer_url, "spec", "explicit URL")
        return settings.installer_url
    version = settings.installer_version or defaults.version
    url = defaults.url.format(version=version, arch="$(uname -m)")
    if settings.mirror and defaults.mirror_folder:
        # Anaconda mirrors carry the Miniconda and Anaconda installers beside the channels.
        mirror = mirror_url(settings.mirror, "conda", catalog, out, ("python", "conda", "mirror"))
        if mirror:
            url = f"{mirror}/{defaults.mirror_folder}/" + url.rsplit("/", 1)[1]
    source: Source = "spec" if settings.installer_version else "default"
    out.decide("python.conda.installer", url, source,
               f"{settings.distribution} {version}, pinned so rebuilds get the same conda")
    if settings.installer_sha256 is None:
        out.note("python.conda-unverified", "the conda installer's checksum is not pinned",
                 ("python", "conda"), "add `installer_sha256:` so a changed download fails the build")
    return url


def _condarc(settings: Conda, catalog: Catalog, out: Collector) -> str | None:
    channels = list(settings.channels)
    mirror = mirror_url(settings.mirror, "conda", catalog, out, ("python", "conda", "mirror"))
    if not channels and mirror is None:
        return None
    lines = ["# written by envspec", "channels:"]
    lines += [f"  - {c}" for c in channels or ["defaults"]]
    if mirror:
        lines += ["show_channel_urls: true", "default_channels:",
                  f"  - {mirror}/pkgs/main", f"  - {mirror}/pkgs/r", "custom_channels:"]
        lines += [f"  {name}: {mirror}/cloud" for name in ("conda-forge", "pytorch", "nvidia")]
    return "\n".join(lines) + "\n"


def _pip_conf(pip: Pip, catalog: Catalog, out: Collector) -> str | None:
    """A global pip.conf, so every pip call (build and run time) sees the same indexes."""
    index = pip.index_url or mirror_url(pip.mirror, "pypi", catalog, out,
                                        ("python", "pip", "mirror"))
    if not (index or pip.extra_index_urls or pip.find_links or pip.trusted_hosts):
        return None
    lines = ["# written by envspec", "[global]"]
    if index:
        lines.append(f"index-url = {index}")
        out.decide("python.pip.index", index, "spec", "used by every pip call (via pip.conf)")
    if pip.extra_index_urls:
        lines.append("extra-index-url = " + " ".join(pip.extra_index_urls))
    if pip.find_links:
        lines.append("find-links = " + " ".join(pip.find_links))
    if pip.trusted_hosts:
        lines.append("trusted-host = " + " ".join(pip.trusted_hosts))
    return "\n".join(lines) + "\n"
