"""Step builders for Python: the interpreter's environment (venv or conda), dependency manifests,
PyTorch, and the spec's pip packages (the plain ones together, then each one with options or a
local file alone)."""

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
from envspec.plan.system import run_as
from envspec.resolve.model import PipInstall, Resolved, ResolvedConda, ResolvedPython

MANIFEST_DIR = "/tmp/envspec"  # dependency manifests are copied here, alone, before install
LOCAL_DIR = f"{MANIFEST_DIR}/pip"  # local wheels and sdists, each copied alone before its install
HASHED_DIR = "pip-hashes"  # generated requirements files carrying the spec's hashes
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
    who = run_as(r)
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
    steps += _constraints(r, py, ctx)
    if py.requirements:
        copies = []
        for rel in py.requirements:
            ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
            copies.append(Copy(rel, f"{MANIFEST_DIR}/{rel}"))
        options = _pip_options(py, hashes=True) + "".join(
            f" -r {shlex.quote(copy.dest)}" for copy in copies)
        steps.append(Step("pip_requirements", "pip requirements", (
            *copies, run(_pip_install(py, ctx, options), mounts=ctx.cache.pip))))
    return steps


def _pip_options(py: ResolvedPython, *, hashes: bool) -> str:
    """Flags every pip install of the build gets: the constraints, and hash-checking mode
    (`hashes`: for the installs whose requirements carry hashes; torch's never do)."""
    flags = "".join(f" -c {shlex.quote(f'{MANIFEST_DIR}/{rel}')}" for rel in py.constraints)
    return flags + (" --require-hashes" if hashes and py.require_hashes else "")


def _constraints(r: Resolved, py: ResolvedPython, ctx: Context) -> list[Step]:
    """Constraints files, copied alone before the first pip install that reads them."""
    if not py.constraints:
        return []
    copies = []
    for rel in py.constraints:
        ctx.files[rel] = ContextFile(source=r.spec_dir / rel)
        copies.append(Copy(rel, f"{MANIFEST_DIR}/{rel}"))
    return [Step("pip_constraints", "pip constraints (every pip install honours them)",
                 tuple(copies))]


def torch(r: Resolved, ctx: Context) -> list[Step]:
    if r.python is None or r.python.torch is None:
        return []
    wheels = r.python.torch
    index = "".join(f" {shlex.quote(arg)}" for arg in wheels.index_args)  # none: PyPI's
    install = sh(_pip_install(r.python, ctx, _pip_options(r.python, hashes=False) + index),
                 *wheels.requirements)
    return [Step("torch", f"PyTorch ({wheels.variant} wheels)",
                 (run(install, mounts=ctx.cache.pip),))]


def pip(r: Resolved, ctx: Context) -> list[Step]:
    """The plain requirements, together in one layer."""
    py = r.python
    plain = [i for i in py.pip_installs if i.plain] if py else []
    if py is None or not plain:
        return []
    if py.require_hashes:
        listed = _hashed_file(ctx, "packages.txt", plain)
        install = sh(_pip_install(py, ctx, _pip_options(py, hashes=True) + f" -r {listed.dest}"))
        return [Step("pip", "pip packages", (listed, run(install, mounts=ctx.cache.pip)))]
    install = sh(_pip_install(py, ctx, _pip_options(py, hashes=False)),
                 *(i.requirement.text for i in plain))
    return [Step("pip", "pip packages", (run(install, mounts=ctx.cache.pip),))]


def pip_packages(r: Resolved, ctx: Context) -> list[Step]:
    """Each requirement with options or a local file in a layer of its own, after the plain
    ones and in spec order: changing one reinstalls it (and those after it), not the plain ones."""
    py = r.python
    if py is None:
        return []
    special = [i for i in py.pip_installs if not i.plain]
    return [_pip_package(r, ctx, py, n, install) for n, install in enumerate(special, 1)]


def _pip_package(r: Resolved, ctx: Context, py: ResolvedPython, n: int,
                 install: PipInstall) -> Step:
    parsed = install.requirement
    instructions: list[Instruction] = []
    if parsed.path is not None:  # alone, so its layer is cached by the file's content
        ctx.files[parsed.path] = ContextFile(source=r.spec_dir / parsed.path)
        instructions.append(Copy(parsed.path, f"{LOCAL_DIR}/{parsed.path}"))
    env = "".join(f"{key}={shlex.quote(value)} " for key, value in install.env.items())
    options = "".join(f" {shlex.quote(option)}" for option in install.options)
    if py.require_hashes:
        listed = _hashed_file(ctx, f"{n:02d}.txt", [install])
        instructions.append(listed)
        command = sh(env + _pip_install(py, ctx, options + _pip_options(py, hashes=True)
                                        + f" -r {listed.dest}"))
    else:
        command = sh(env + _pip_install(py, ctx, options + _pip_options(py, hashes=False)),
                     parsed.argument(LOCAL_DIR))
    instructions.append(run(command, mounts=ctx.cache.pip))
    return Step("pip_package", f"pip: {parsed.name or parsed.path or parsed.text}",
                tuple(instructions))


def _hashed_file(ctx: Context, name: str, installs: list[PipInstall]) -> Copy:
    """A generated requirements file (pip takes --hash only from one), copied into place."""
    lines = [" ".join([i.requirement.argument(LOCAL_DIR), *(f"--hash={h}" for h in i.hashes)])
             for i in installs]
    rel = f"{HASHED_DIR}/{name}"
    ctx.files[rel] = ContextFile(text="# written by envspec\n" + "\n".join(lines) + "\n")
    return Copy(rel, f"{MANIFEST_DIR}/{rel}")
