"""Step builders for Python: the interpreter's environment (venv or conda), dependency manifests,
PyTorch, and the spec's pip packages."""

from __future__ import annotations

import shlex

from envspec.plan.steps import (
    Command,
    Context,
    ContextFile,
    Copy,
    Env,
    Instruction,
    Run,
    Step,
    User,
    run,
    sh,
)
from envspec.plan.system import user_id
from envspec.resolve.model import Resolved, ResolvedConda, ResolvedPython

MANIFEST_DIR = "/tmp/envspec"  # dependency manifests are copied here, alone, before install
_INSTALLER = "/tmp/conda-installer.sh"


def python_runtime(r: Resolved, ctx: Context) -> list[Step]:
    py = r.python
    if py is None:
        return []
    setup: list[Instruction] = []
    if py.pip_conf is not None:
        ctx.files["pip.conf"] = ContextFile(text=py.pip_conf)
        setup.append(Copy("pip.conf", "/etc/pip.conf"))
    if py.conda is not None and py.conda.condarc is not None:
        ctx.files["condarc"] = ContextFile(text=py.conda.condarc)
        setup.append(Copy("condarc", "/etc/conda/.condarc"))
    if py.provider == "image":
        # pip writes into the image's own env, which root owns: it runs as root (the runtime
        # step switches to the user), and no venv or second interpreter is made.
        return [Step("python_image", f"Python {py.version}: the image's own {py.interpreter}",
                     tuple(setup))] if setup else []
    who = user_id(r)
    if who:
        setup.append(User(who))
    if py.conda is not None:
        return [Step("conda", f"Python {py.version} (conda)",
                     (*setup, *_install_conda(py, py.conda, ctx)))]
    return [Step("venv", f"Python {py.version} in a venv (PEP 668 keeps pip out of the OS's)", (
        *setup,
        run(f"{py.interpreter} -m venv {shlex.quote(py.prefix)}"),
        Env({"VIRTUAL_ENV": py.prefix, "PATH": f"{py.bin_dir}:$PATH"}, expand=True),
    ))]


def _install_conda(py: ResolvedPython, conda: ResolvedConda, ctx: Context) -> tuple[Run, Env]:
    # The URL may hold $(uname -m): double quotes let the shell expand it at build time.
    commands = [sh(f'curl -fsSL -o {_INSTALLER} "{conda.installer_url}"')]
    if conda.installer_sha256:
        commands.append(sh(f"echo {shlex.quote(f'{conda.installer_sha256}  {_INSTALLER}')}"
                           " | sha256sum -c -"))
    commands += [
        sh(f"bash {_INSTALLER} -b -u -p {conda.base_prefix}"),
        sh(f"rm {_INSTALLER}"),
        sh(f"{conda.base_prefix}/bin/conda create -y -p {py.prefix} "
           f"{shlex.quote(f'python={py.version}')}"),
    ]
    return (
        _conda_run(conda, ctx, *commands),
        Env({"CONDA_PREFIX": py.prefix, "PATH": f"{py.bin_dir}:{conda.base_prefix}/bin:$PATH"},
            expand=True),
    )


def _conda_run(conda: ResolvedConda, ctx: Context, *commands: Command) -> Run:
    """Conda commands in one layer: with a cache mount the packages stay in it, else cleaned."""
    clean = () if ctx.cache.conda else (sh(f"{conda.base_prefix}/bin/conda clean -afy"),)
    return run(*commands, *clean, mounts=ctx.cache.conda)


def _pip_install(py: ResolvedPython, ctx: Context, options: str = "") -> str:
    """`pip install` with pip's own cache off unless a BuildKit cache mount holds it; `python`
    is the venv's or conda env's (first on PATH), or the image's own interpreter."""
    flag = "" if ctx.cache.pip else " --no-cache-dir"
    python = shlex.quote(py.interpreter) if py.provider == "image" else "python"
    return f"{python} -m pip install{flag}{options}"


def manifests(r: Resolved, ctx: Context) -> list[Step]:
    py = r.python
    if py is None:
        return []
    steps = []
    conda = py.conda
    if conda is not None and conda.environment_file:
        rel = conda.environment_file
        dest = f"{MANIFEST_DIR}/{rel}"
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        steps.append(Step("conda_environment", f"conda environment from {rel}", (
            Copy(rel, dest),
            _conda_run(conda, ctx, sh(f"{conda.base_prefix}/bin/conda env update "
                                      f"-p {py.prefix} -f {dest}")),
        )))
    if conda is not None and conda.packages:
        install = sh(f"{conda.base_prefix}/bin/conda install -y -p {py.prefix}", *conda.packages)
        steps.append(Step("conda_packages", "conda packages", (_conda_run(conda, ctx, install),)))
    if py.requirements:
        copies = []
        for rel in py.requirements:
            ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
            copies.append(Copy(rel, f"{MANIFEST_DIR}/{rel}"))
        options = "".join(f" -r {shlex.quote(copy.dest)}" for copy in copies)
        steps.append(Step("pip_requirements", "pip requirements", (
            *copies, run(_pip_install(py, ctx, options), mounts=ctx.cache.pip))))
    return steps


def torch(r: Resolved, ctx: Context) -> list[Step]:
    if r.python is None or r.python.torch is None:
        return []
    wheels = r.python.torch
    index = " ".join(shlex.quote(arg) for arg in wheels.index_args)
    install = sh(_pip_install(r.python, ctx, f" {index}"), *wheels.requirements)
    return [Step("torch", f"PyTorch ({wheels.variant} wheels)",
                 (run(install, mounts=ctx.cache.pip),))]


def pip(r: Resolved, ctx: Context) -> list[Step]:
    if r.python is None or not r.python.pip_packages:
        return []
    install = sh(_pip_install(r.python, ctx), *r.python.pip_packages)
    return [Step("pip", "pip packages", (run(install, mounts=ctx.cache.pip),))]
