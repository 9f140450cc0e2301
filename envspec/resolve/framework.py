"""Framework base images (pytorch/pytorch, NGC, tensorflow, conda, cudagl): what the catalog
knows of the tag is checked against the spec, and `python.provider: image` uses the image's own
interpreter instead of adding a second one. The facts: envspec/data/framework_images.yaml."""

from __future__ import annotations

import posixpath

from envspec.framework_images import FrameworkImage
from envspec.resolve.model import Collector, ResolvedBase, Source
from envspec.resolve.torch import Family
from envspec.spec import Base, Python

IMAGE_PYTHON = "python3"  # an unknown image's interpreter: whatever python3 is first on PATH
_STATUS_WORDS = {
    "eol": "is end-of-life",
    "deleted": "was deleted from its registry",
    "never-published": "was never published",
}


def same_version(wanted: str, known: str) -> bool:
    """`12.1` matches `12.1.105`: the parts both name are equal."""
    pairs = zip(wanted.split("."), known.split("."), strict=False)
    return all(a == b for a, b in pairs)


def check_framework_base(base: Base, image: str, known: FrameworkImage, out: Collector) -> None:
    """`base.cuda`/`base.os` against the tag's facts, and the tag's status."""
    out.decide("base.framework", known.reference, "catalog", _facts(known))
    if known.cuda is not None:
        if base.cuda is not None and not same_version(base.cuda, known.cuda):
            out.error("base.framework-cuda", f"{image} carries CUDA {known.cuda}, not {base.cuda}",
                      ("base", "cuda"), f"set `cuda: \"{known.cuda}\"` or drop `cuda:`")
        elif base.cuda is None:
            out.decide("base.cuda", known.cuda, "catalog", f"the CUDA inside {image}")
    if base.os is not None and known.os is not None and base.os != known.os:
        out.error("base.framework-os", f"{image} is built on {known.os}, not {base.os}",
                  ("base", "os"), f"set `os: {known.os}` or drop `os:`")
    if known.status != "available":
        out.warn("base.framework-status", f"{image} {_STATUS_WORDS[known.status]}",
                 ("base", "image"), "choose a newer tag of "
                 f"{known.family} (envspec/data/framework_images.yaml lists the known ones)")


def _facts(known: FrameworkImage) -> str:
    parts = [f"{name} {value}" for name, value in (
        ("os", known.os), ("CUDA", known.cuda), ("cuDNN", known.cudnn),
        ("Python", known.python), ("torch", known.torch), ("TensorFlow", known.tensorflow),
    ) if value]
    parts.append("conda" if known.conda else "no conda")
    if known.confidence:
        parts.append(f"confidence: {known.confidence}")
    return ", ".join(parts)


def refuse_second_interpreter(python: Python, base: ResolvedBase, out: Collector) -> bool:
    """A known framework image already has Python: a system/conda one beside it is an error."""
    known = base.framework
    if known is None or known.python is None or python.provider == "image":
        return False
    out.error("python.second-interpreter",
              f"{base.image} already has Python {known.python}; `provider: {python.provider}` "
              "would install a second interpreter beside it", ("python", "provider"),
              "use `provider: image` (pip installs into the image's own Python)")
    return True


def image_python(python: Python, base: ResolvedBase, out: Collector) -> tuple[str, str, str]:
    """(version, interpreter, prefix) of the image's own Python."""
    known = base.framework
    interpreter = python.interpreter or (known.python_path if known else None) or IMAGE_PYTHON
    source: Source = "spec" if python.interpreter else (
        "catalog" if known and known.python_path else "default")
    why = "the image's own Python: pip installs into it, no venv"
    if known is None:
        out.note("python.image-unknown", f"envspec does not know {base.image}; it trusts that "
                 f"{interpreter} exists there", ("python", "provider"),
                 "set `interpreter:` to the image's python if python3 on PATH is not it")
    out.decide("python.interpreter", interpreter, source, why)
    version = _image_version(python, base, known, out)
    prefix = posixpath.dirname(posixpath.dirname(interpreter)) if interpreter.startswith("/") \
        else "/usr"
    return version, interpreter, prefix


def _image_version(
    python: Python, base: ResolvedBase, known: FrameworkImage | None, out: Collector
) -> str:
    in_image = known.python if known else None
    if python.version and in_image and not same_version(python.version, in_image):
        out.error("python.image-version", f"{base.image} carries Python {in_image}, "
                  f"not {python.version}", ("python", "version"),
                  f"set `version: \"{_major_minor(in_image)}\"` or drop `version:`")
    if python.version:
        out.decide("python.version", python.version, "spec", "the image's Python")
        return python.version
    if in_image:
        version = _major_minor(in_image)
        out.decide("python.version", version, "catalog", f"the Python inside {base.image}")
        return version
    out.error("python.image-version", f"envspec does not know which Python {base.image} has",
              ("python", "provider"), "add `version:` (major.minor of the image's python)")
    return ""


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def torch_in_image(family: Family, base: ResolvedBase, out: Collector) -> Family:
    """Drops a torch pin the image's own torch meets; warns when the pip install would replace
    the image's build (NVIDIA's and pytorch/pytorch's torch match their CUDA)."""
    known = base.framework
    wanted = family.get("torch")
    if known is None or known.torch is None or wanted is None:
        return family
    if wanted.specifier.contains(known.torch, prereleases=True):
        out.decide("python.torch", known.torch, "catalog", f"already in {base.image}, kept")
        return {name: req for name, req in family.items() if name != "torch"}
    out.warn("python.image-torch", f"{base.image} already has torch {known.torch}; the pip "
             f"install of {wanted} replaces it", ("python", "pip", "packages"),
             "drop the torch pin to keep the image's build, or choose a tag with the torch wanted")
    return family
