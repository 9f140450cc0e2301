"""Step builder for CUDA installed from NVIDIA's apt repository (the nvidia-apt source).

Two layers, as NVIDIA's own base recipes had: the repository with its signing key, then the
pinned packages with their holds, the /usr/local/cuda link and the driver library path; then
the variables NVIDIA's images set, so the Container Toolkit treats the image like theirs.
"""

from __future__ import annotations

import shlex

from envspec.plan.packages import package_manager
from envspec.plan.steps import Command, Context, Env, Step, sh
from envspec.resolve.model import CudaAptInstall, Resolved

KEYRING = "/usr/share/keyrings/cuda-archive-keyring.gpg"
SOURCE_LIST = "/etc/apt/sources.list.d/cuda.list"
NVIDIA_LD_CONF = "/etc/ld.so.conf.d/nvidia.conf"
_KEY_TOOLS = ("ca-certificates", "curl", "gnupg")


def cuda_apt(r: Resolved, ctx: Context) -> list[Step]:
    install = r.base.cuda_apt
    if install is None:
        return []
    manager = package_manager(r.base.distro.family, ctx.cache.system)
    title = f"CUDA {r.base.cuda} {r.base.flavor} from NVIDIA's apt repository"
    return [Step("cuda_apt", title, (
        manager.install((*_KEY_TOOLS, *install.bootstrap), then=_repository(install)),
        manager.install(install.packages, then=_after_install(install)),
        Env(dict(install.env)),
    ))]


def _repository(install: CudaAptInstall) -> tuple[Command, ...]:
    """The key in a keyring of its own that only this source trusts; curl leaves again
    (NVIDIA's recipes did the same), gnupg stays: on xenial apt itself depends on it."""
    line = f"deb [signed-by={KEYRING}] {install.repository} /"
    return (
        sh(f"curl -fsSL {shlex.quote(install.key_url)} | gpg --dearmor -o {KEYRING}"),
        sh(f"echo {shlex.quote(line)} > {SOURCE_LIST}"),
        sh("apt-get purge -y --autoremove curl"),
    )


def _after_install(install: CudaAptInstall) -> tuple[Command, ...]:
    commands = []
    if install.holds:  # NVIDIA held the library packages whose names carry no CUDA version
        commands.append(sh("apt-mark hold", *install.holds))
    commands += [
        sh(f"ln -s {shlex.quote(install.cuda_dir)} /usr/local/cuda"),
        sh(f"printf '%s\\n' /usr/local/nvidia/lib /usr/local/nvidia/lib64 > {NVIDIA_LD_CONF}"),
    ]
    return tuple(commands)
