"""Step builder for `sources:`: one RUN per source (fetch, build, install, clean), so that each
source is its own cached layer and editing one rebuilds it and what follows only."""

from __future__ import annotations

import shlex

from envspec.plan.steps import Command, Context, Instruction, Step, User, run, sh
from envspec.plan.system import ROOT, user_id
from envspec.resolve.model import CudaArchs, Resolved, ResolvedSource
from envspec.spec_sources import Source

q = shlex.quote
_ARCHIVE = "/tmp/envspec-source-archive"


def sources(r: Resolved, ctx: Context) -> list[Step]:
    if not r.sources:
        return []
    as_root: tuple[Instruction, ...] = (User(ROOT),) if r.spec.user is not None else ()
    owner = user_id(r)
    runs = tuple(run(*source_commands(s, r.cuda_archs, ctx, owner)) for s in r.sources)
    names = ", ".join(s.spec.name for s in r.sources)
    return [Step("sources", f"source builds: {names} (as root)", (*as_root, *runs))]


def source_commands(
    resolved: ResolvedSource, archs: CudaArchs | None, ctx: Context, owner: str | None = None
) -> list[Command]:
    source = resolved.spec
    commands = _build_env(source, archs)
    commands += _fetch_git(source, resolved.commit) if source.git else _fetch_archive(source)
    commands += _BUILDERS[source.builder](source, archs, ctx)
    if not source.keep:
        commands.append(sh(f"rm -rf {q(source.folder)}"))
    elif owner:  # a kept tree is the user's to work in (git refuses a repository of root's)
        commands.append(sh(f"chown -R {owner} {q(source.folder)}"))
    return commands


def _build_env(source: Source, archs: CudaArchs | None) -> list[Command]:
    """The source's own env, and the architecture list for the builders that read it from
    there (cmake gets it as a -D instead): set for this RUN only, not in the image."""
    pairs = dict(source.env)
    if archs is not None and source.builder != "cmake":
        pairs = {"TORCH_CUDA_ARCH_LIST": archs.torch, "CUDAARCHS": archs.cmake} | pairs
    if not pairs:
        return []
    return [sh("export " + " ".join(f"{key}={q(value)}" for key, value in pairs.items()))]


def _fetch_git(source: Source, commit: str | None) -> list[Command]:
    url, dest = q(source.git or ""), q(source.folder)
    if commit is None:  # a tag: a shallow clone of just it
        sub = " --recurse-submodules --shallow-submodules" if source.submodules else ""
        return [sh(f"git clone --depth 1{sub} --branch {q(source.ref or '')} {url} {dest}")]
    # An exact commit: any server can hand out a full clone; not all allow fetching one commit.
    commands = [sh(f"git clone --no-checkout {url} {dest}"),
                sh(f"git -C {dest} checkout --detach {commit}")]
    if source.submodules:
        commands.append(sh(f"git -C {dest} submodule update --init --recursive --depth 1"))
    return commands


def _fetch_archive(source: Source) -> list[Command]:
    dest = q(source.folder)
    return [
        sh(f"curl -fsSL -o {_ARCHIVE} {q(source.archive or '')}"),
        sh(f"echo {q(f'{source.sha256}  {_ARCHIVE}')} | sha256sum -c -"),
        sh(f"mkdir -p {dest}"),
        sh(f"tar -xf {_ARCHIVE} -C {dest} --strip-components=1"),
        sh(f"rm {_ARCHIVE}"),
    ]


def _args(values: list[str]) -> str:
    return "".join(f" {q(v)}" for v in values)


def _jobs(source: Source) -> str:
    return str(source.jobs) if source.jobs else '"$(nproc)"'


def _pip(source: Source, archs: CudaArchs | None, ctx: Context) -> list[Command]:
    # Built as root: the pip cache mount belongs to the non-root user, so no cache here.
    flags = " --no-cache-dir"
    flags += " --no-build-isolation" if source.no_build_isolation else ""
    target = f"-e {q(source.folder)}" if source.editable else q(source.folder)
    return [sh(f"python -m pip install{flags}{_args(source.args)} {target}")]


def _cmake(source: Source, archs: CudaArchs | None, ctx: Context) -> list[Command]:
    dest = q(source.folder)
    build = q(f"{source.folder}/build")
    defines = [f"-DCMAKE_BUILD_TYPE={source.build_type or 'Release'}",
               f"-DCMAKE_INSTALL_PREFIX={source.install_prefix}"]
    if archs is not None:
        defines.append(f"-DCMAKE_CUDA_ARCHITECTURES={archs.cmake}")
    return [
        sh(f"cmake -S {dest} -B {build}{_args(defines)}{_args(source.args)}"),
        sh(f"cmake --build {build} --parallel {_jobs(source)}"),
        sh(f"cmake --install {build}"),
    ]


def _make(source: Source, archs: CudaArchs | None, ctx: Context) -> list[Command]:
    dest = q(source.folder)
    commands = []
    if source.configure:
        prefix = q(f"--prefix={source.install_prefix}")
        commands.append(_in_folder(source, f"./configure {prefix}{_args(source.args)}"))
    commands += [sh(f"make -C {dest} -j{_jobs(source)}{_args(source.make_args)}"),
                 sh(f"make -C {dest} install{_args(source.make_args)}")]
    return commands


def _script(source: Source, archs: CudaArchs | None, ctx: Context) -> list[Command]:
    return [_in_folder(source, command) for command in source.commands]


def _in_folder(source: Source, command: str) -> Command:
    """`command` in the source folder, in its own `sh -c` quoted whole: the RUN's working
    directory stays put, and a `#` or `;` in the command cannot reach the commands after it."""
    return sh("sh -ec " + q(f"cd {q(source.folder)} && {command}"))


_BUILDERS = {"pip": _pip, "cmake": _cmake, "make": _make, "script": _script}
