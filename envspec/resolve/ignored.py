"""Settings the chosen provider, flavour or base would silently ignore: never silent here.

A contradiction (the user asked for something the spec then cannot give, e.g. a devel flavour
on an image without CUDA) is an error; a harmless leftover (a mirror overridden by an explicit
index) is a warning. Both point at the key that is ignored.
"""

from __future__ import annotations

from envspec.resolve.model import Collector, ResolvedBase
from envspec.spec import Python, Spec


def check_ignored_settings(spec: Spec, base: ResolvedBase, out: Collector) -> None:
    _check_base(spec, base, out)
    if spec.python is not None:
        _check_python(spec.python, out)
    _check_smoke(spec, base, out)
    _check_build(spec, out)
    for i, repo in enumerate(spec.apt.repositories):
        unused = sorted({"suite", "components"} & repo.model_fields_set)
        if repo.ppa is not None and unused:
            out.warn("apt.ignored", f"`{unused[0]}` is ignored for a PPA (Launchpad decides it)",
                     ("apt", "repositories", i, unused[0]), f"remove `{unused[0]}`")


def _check_base(spec: Spec, base: ResolvedBase, out: Collector) -> None:
    if spec.base.cuda is None and spec.base.image is None:
        # Writing out a default (runtime, false) asks for nothing; anything else asks for CUDA.
        asked = {"flavor"} if spec.base.flavor != "runtime" else set()
        asked |= {"cudnn"} if spec.base.cudnn else set()
        for key in sorted(asked):
            out.error("base.ignored", f"`base.{key}` only applies to CUDA images, and "
                      "`base.cuda` is not set", ("base", key),
                      f"set `base.cuda` (e.g. '12.4'), or remove `{key}`")
    if spec.base.image is not None and "cudnn" in spec.base.model_fields_set:
        out.warn("base.ignored", f"`base.cudnn` is ignored: the image {base.image} decides it",
                 ("base", "cudnn"), "remove `cudnn`, or name a cudnn image in `base.image`")


def _check_python(python: Python, out: Collector) -> None:
    if python.provider != "system" and "venv" in python.model_fields_set:
        where = {"conda": "conda installs packages into its own environment",
                 "image": "pip installs into the image's own Python"}[python.provider]
        out.error("python.ignored", f"`python.venv` only applies with `provider: system`; {where}",
                  ("python", "venv"), "remove `venv`, or set `provider: system`")
    if "mirror" in python.pip.model_fields_set and python.pip.index_url is not None:
        out.warn("python.ignored", "`python.pip.mirror` is ignored: `index_url` overrides it",
                 ("python", "pip", "mirror"), "keep one of `mirror` and `index_url`")
    conda = python.conda
    installing = {"distribution", "installer_version", "installer_url", "installer_sha256"}
    for key in sorted(installing & (conda.model_fields_set if conda else set())):
        if python.provider == "image":
            out.error("python.ignored", f"`python.conda.{key}` only applies with `provider: "
                      "conda`; the image's own conda is used", ("python", "conda", key),
                      f"remove `{key}`")
    if conda is not None and conda.installer_url and conda.installer_version:
        out.warn("python.ignored", "`installer_version` is ignored: `installer_url` names the "
                 "installer", ("python", "conda", "installer_version"),
                 "keep one of `installer_version` and `installer_url`")


def _check_smoke(spec: Spec, base: ResolvedBase, out: Collector) -> None:
    if spec.smoke.gpu != "required" or base.cuda is not None:
        return
    message = "`smoke.gpu: required` needs a CUDA image, and this one has no CUDA"
    hint = "set `base.cuda`, or `smoke.gpu: auto`"
    if spec.base.image is None:
        out.error("smoke.gpu-without-cuda", message, ("smoke", "gpu"), hint)
    else:  # an explicit image may carry CUDA that envspec cannot see from its name
        out.warn("smoke.gpu-without-cuda", f"{message} that envspec knows of", ("smoke", "gpu"),
                 "set `base.cuda` to the image's CUDA version")


def _check_build(spec: Spec, out: Collector) -> None:
    build = spec.build
    if "keep_ca_certificates" in build.model_fields_set and not build.ca_certificates:
        out.warn("build.ignored", "`keep_ca_certificates` is ignored: no `ca_certificates` are "
                 "listed", ("build", "keep_ca_certificates"), "remove it")
