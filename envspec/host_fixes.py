"""The commands that fix what `envspec doctor` finds, for the host's distribution.

Pure text: envspec prints them and never runs sudo itself.
"""

from __future__ import annotations


def _read_os_release() -> str | None:
    try:
        with open("/etc/os-release", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def parse_os_release(text: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key] = value.strip().strip("\"'")
    return values


def _family(os_release: dict[str, str]) -> str:
    """'ubuntu', 'debian', 'fedora', 'rhel', 'centos' or 'other' (derivatives by ID_LIKE)."""
    own = os_release.get("ID", "").lower()
    if own in ("ubuntu", "debian", "fedora", "centos", "rhel"):
        return own
    if own in ("rocky", "almalinux", "ol"):
        return "rhel"
    like = os_release.get("ID_LIKE", "").lower().split()
    for family in ("ubuntu", "debian", "rhel", "centos", "fedora"):
        if family in like:
            return "rhel" if family == "centos" else family
    return "other"


def docker_install_fix(os_release: dict[str, str]) -> tuple[str, ...]:
    family = _family(os_release)
    if family in ("ubuntu", "debian"):
        url = f"https://download.docker.com/linux/{family}"
        codename = "${UBUNTU_CODENAME:-$VERSION_CODENAME}" if family == "ubuntu" else ("$VERSION_CODENAME")
        return (
            "sudo apt-get update && sudo apt-get install -y ca-certificates curl",
            "sudo install -m 0755 -d /etc/apt/keyrings",
            f"sudo curl -fsSL {url}/gpg -o /etc/apt/keyrings/docker.asc",
            'echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] '
            f'{url} $(. /etc/os-release && echo {codename}) stable" '
            "| sudo tee /etc/apt/sources.list.d/docker.list",
            "sudo apt-get update && sudo apt-get install -y docker-ce docker-ce-cli containerd.io",
            "sudo systemctl enable --now docker",
        )
    if family in ("fedora", "rhel", "centos"):
        return (
            "sudo dnf -y install dnf-plugins-core",
            f"sudo dnf config-manager --add-repo https://download.docker.com/linux/{family}/docker-ce.repo",
            "sudo dnf install -y docker-ce docker-ce-cli containerd.io",
            "sudo systemctl enable --now docker",
        )
    return ("# follow https://docs.docker.com/engine/install/ for this distribution",)


_TOOLKIT_REPO = "https://nvidia.github.io/libnvidia-container"
_TOOLKIT_KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
REGISTER_TOOLKIT = (
    "sudo nvidia-ctk runtime configure --runtime=docker",
    "sudo systemctl restart docker",
)


def toolkit_fix_commands(os_release: dict[str, str] | None = None) -> tuple[str, ...]:
    """Install the NVIDIA Container Toolkit and register it with Docker, for this distro."""
    if os_release is None:
        os_release = parse_os_release(_read_os_release())
    family = _family(os_release)
    if family in ("ubuntu", "debian"):
        install: tuple[str, ...] = (
            f"curl -fsSL {_TOOLKIT_REPO}/gpgkey | sudo gpg --dearmor -o {_TOOLKIT_KEYRING}",
            f"curl -fsSL {_TOOLKIT_REPO}/stable/deb/nvidia-container-toolkit.list "
            f"| sed 's#deb https://#deb [signed-by={_TOOLKIT_KEYRING}] https://#g' "
            "| sudo tee /etc/apt/sources.list.d/nvidia-container-toolkit.list",
            "sudo apt-get update && sudo apt-get install -y nvidia-container-toolkit",
        )
    elif family in ("fedora", "rhel", "centos"):
        install = (
            f"curl -fsSL {_TOOLKIT_REPO}/stable/rpm/nvidia-container-toolkit.repo "
            "| sudo tee /etc/yum.repos.d/nvidia-container-toolkit.repo",
            "sudo dnf install -y nvidia-container-toolkit",
        )
    else:
        install = (
            "# install nvidia-container-toolkit: "
            "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/",
        )
    return install + REGISTER_TOOLKIT


def driver_fix(os_release: dict[str, str], minimum: str | None = None) -> tuple[str, ...]:
    need = f" (>= {minimum})" if minimum else ""
    family = _family(os_release)
    if family == "ubuntu":
        return (
            f"# install an NVIDIA driver{need}, then reboot",
            "sudo ubuntu-drivers list --gpgpu",
            "sudo ubuntu-drivers install --gpgpu",
        )
    if family == "debian":
        return (
            f"# enable the contrib non-free non-free-firmware components, install{need}, reboot",
            "sudo apt-get update && sudo apt-get install -y nvidia-driver firmware-misc-nonfree",
        )
    return (f"# install an NVIDIA driver{need}: https://www.nvidia.com/drivers/",)
