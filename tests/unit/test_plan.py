"""The plan's typed steps: every command and flag is decided in Python, in the right order."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

from envspec.loader import load_spec
from envspec.plan import BuildPlan, cache_mounts, make_plan
from envspec.plan.packages import Apt, package_manager
from envspec.plan.steps import (
    CacheMounts,
    Context,
    ContextFile,
    Copy,
    Env,
    Instruction,
    Run,
    Step,
    User,
    sh,
)
from envspec.plan.system import CA_DIR, ca_cleanup, installs_ca_certificates
from envspec.render import render_dockerfile, templates_dir
from envspec.resolve import Resolved, resolve
from envspec.resolve.model import AptRepo
from tests.conftest import EXAMPLES

APT_CACHE = ("type=cache,target=/var/cache/apt,sharing=locked",
             "type=cache,target=/var/lib/apt/lists,sharing=locked")
CERT = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"


def _resolved(write_spec: Callable[[str], Path], text: str) -> Resolved:
    return resolve(load_spec(write_spec("name: t\nbase:\n  os: debian12\n" + text)))


def _step(plan: BuildPlan, name: str) -> Step:
    (found,) = [step for step in plan.steps if step.name == name]
    return found


def _only_run(step: Step) -> Run:
    (instruction,) = step.instructions
    assert isinstance(instruction, Run)
    return instruction


def _texts(run: Run) -> list[str]:
    return [command.text for command in run.commands]


def test_apt_without_cache_installs_then_cleans_in_the_same_layer() -> None:
    run = Apt("debian").install(("git", "vim"))
    assert _texts(run) == ["apt-get update", "apt-get install -y --no-install-recommends",
                           "apt-get clean", "rm -rf /var/lib/apt/lists/*"]
    assert run.commands[1].args == ("git", "vim")
    assert run.mounts == ()


def test_apt_with_cache_mounts_keeps_downloads_and_skips_the_clean_up() -> None:
    run = Apt("debian", APT_CACHE).install(("git",))
    texts = _texts(run)
    assert texts[0] == "rm -f /etc/apt/apt.conf.d/docker-clean"
    assert "Keep-Downloaded-Packages" in texts[1]
    assert texts[2:] == ["apt-get update", "apt-get install -y --no-install-recommends"]
    assert run.mounts == APT_CACHE


def test_apt_adds_repositories_with_their_own_keyring_before_the_install() -> None:
    repo = AptRepo("ppa-x", "https://example.invalid/ubuntu", "jammy", ("main", "extra"),
                   "https://example.invalid/key; rm -rf /")
    texts = _texts(Apt("debian").install(("python3.12",), (repo,), then=()))
    assert texts[:3] == ["apt-get update",
                         "apt-get install -y --no-install-recommends ca-certificates curl",
                         "install -d -m 0755 /etc/apt/keyrings"]
    # Values from the resolved spec reach the shell quoted.
    assert texts[3] == "curl -fsSL 'https://example.invalid/key; rm -rf /' -o /etc/apt/keyrings/ppa-x.key"
    # An armored key becomes ppa-x.asc, a binary one ppa-x.gpg (apt reads each by extension).
    assert texts[4] == ("if grep -q 'BEGIN PGP PUBLIC KEY BLOCK' /etc/apt/keyrings/ppa-x.key; "
                        "then ext=asc; else ext=gpg; fi")
    assert texts[5] == 'mv /etc/apt/keyrings/ppa-x.key "/etc/apt/keyrings/ppa-x.$ext"'
    assert texts[6].startswith('echo "deb [signed-by=/etc/apt/keyrings/ppa-x.$ext] '
                               'https://example.invalid/ubuntu jammy main extra" > ')
    assert texts[7:9] == ["apt-get update", "apt-get install -y --no-install-recommends"]


def test_commands_to_run_after_the_install_come_before_the_clean_up() -> None:
    texts = _texts(Apt("debian").install(("ca-certificates",), then=(sh("update-ca-certificates"),)))
    assert texts.index("update-ca-certificates") == texts.index("apt-get clean") - 1


def test_mirror_rewrites_security_first_and_fails_when_nothing_matched() -> None:
    run = package_manager("debian").use_mirror("http://m.invalid/debian",
                                               "http://s.invalid/debian-security")
    rewrite, check = _texts(run)
    assert rewrite.index("+/debian-security/") < rewrite.index("+/debian/")
    assert "#http://s.invalid/debian-security" in rewrite
    assert "grep -rqsF http://m.invalid/debian " in check and "exit 1" in check
    alone, _ = _texts(package_manager("ubuntu").use_mirror("http://m.invalid/ubuntu"))
    assert alone.count(" -e ") == 1 and "+/ubuntu/" in alone


def test_package_manager_is_chosen_by_distro_family() -> None:
    assert isinstance(package_manager("ubuntu", APT_CACHE), Apt)
    assert package_manager("debian").cache_mounts() == APT_CACHE
    assert package_manager("debian", APT_CACHE).install(("x",)).mounts == APT_CACHE


def test_apt_step_updates_the_bundle_only_when_certificates_are_installed(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    resolved = _resolved(write_spec, "python: null\napt:\n  packages: [git]\n")
    plain = _texts(_only_run(_step(make_plan(resolved), "apt")))
    (tmp_path / "cli.crt").write_text(CERT)
    with_cert = _texts(_only_run(_step(make_plan(resolved, (tmp_path / "cli.crt",)), "apt")))
    assert "update-ca-certificates" not in plain
    assert with_cert.index("update-ca-certificates") > with_cert.index(
        "apt-get install -y --no-install-recommends")


def test_ca_cleanup_follows_the_spec_and_the_cli_not_the_context_files(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "corp.crt").write_text(CERT)
    with_spec_cert = _resolved(
        write_spec, "build:\n  ca_certificates: [corp.crt]\n  keep_ca_certificates: false\n")
    without = _resolved(write_spec, "build:\n  keep_ca_certificates: false\n")
    # Files an earlier step may have written must not matter, either way round.
    stray = {"ca-certificates/00-x.crt": ContextFile(text=CERT)}
    assert ca_cleanup(without, Context(certs=(), cache=CacheMounts(), files=stray)) == []
    (step,) = ca_cleanup(with_spec_cert, Context(certs=(), cache=CacheMounts()))
    user, remove = step.instructions
    assert user == User("0:0") and isinstance(remove, Run)
    assert _texts(remove) == [f"rm -rf {CA_DIR}", "update-ca-certificates --fresh"]
    assert ca_cleanup(without, Context(certs=(tmp_path / "corp.crt",), cache=CacheMounts()))
    assert installs_ca_certificates(with_spec_cert, ())
    assert not installs_ca_certificates(without, ())


def test_ca_cleanup_respects_keep_ca_certificates(
    write_spec: Callable[[str], Path], tmp_path: Path
) -> None:
    (tmp_path / "corp.crt").write_text(CERT)
    kept = _resolved(write_spec, "build:\n  ca_certificates: [corp.crt]\n"
                                 "  keep_ca_certificates: true\n")
    assert ca_cleanup(kept, Context(certs=(), cache=CacheMounts())) == []


def test_pip_cache_mount_replaces_the_no_cache_flag(write_spec: Callable[[str], Path]) -> None:
    resolved = _resolved(write_spec, "python:\n  pip:\n    packages: [six]\n")
    classic = _only_run(_step(make_plan(resolved), "pip"))
    buildkit = _only_run(_step(make_plan(resolved, buildkit=True), "pip"))
    assert classic.commands[0].text == "python -m pip install --no-cache-dir"
    assert classic.mounts == ()
    assert buildkit.commands[0].text == "python -m pip install"
    assert buildkit.mounts == cache_mounts(resolved).pip != ()
    assert classic.commands[0].args == buildkit.commands[0].args == ("six",)


def test_venv_path_expands_and_spec_env_values_are_escaped(
    write_spec: Callable[[str], Path]
) -> None:
    # `$$` is the spec's literal dollar (issue 10 item 3: a lone `$NAME` is now a reference).
    resolved = _resolved(write_spec, "env:\n  FOO: 'a $$HOME'\npython:\n  provider: system\n")
    plan = make_plan(resolved)
    venv_env = _step(plan, "venv").instructions[-1]
    assert isinstance(venv_env, Env) and venv_env.expand
    text = render_dockerfile(plan)
    assert 'FOO="a \\$HOME"' in text and "PATH=/opt/venv/bin:$PATH" in text


def test_every_example_plans_only_typed_instructions_and_renders_each_once() -> None:
    typed = get_args(Instruction)
    for example in EXAMPLES:
        plan = make_plan(resolve(load_spec(example / "env.yaml")))
        instructions = [i for step in plan.steps for i in step.instructions]
        assert instructions and all(isinstance(i, typed) for i in instructions)
        text = render_dockerfile(plan)
        runs = sum(isinstance(i, Run) for i in instructions)
        copies = sum(isinstance(i, Copy) for i in instructions)
        assert text.count("\nRUN ") == runs
        assert text.count("\nCOPY ") == copies


def test_partials_lay_out_and_decide_nothing() -> None:
    """Decisions live in envspec/plan/; a partial only imports the layout macro and calls it."""
    partials = sorted((Path(templates_dir()) / "partials").glob("*.j2"))
    assert partials
    for partial in partials:
        tags = re.findall(r"{%-?\s*(\w+)", partial.read_text())
        assert tags == ["from"], f"{partial.name} decides something: {tags}"


def test_every_planned_step_has_its_partial() -> None:
    names = {step.name for example in EXAMPLES
             for step in make_plan(resolve(load_spec(example / "env.yaml"))).steps}
    for name in names:
        assert (Path(templates_dir()) / "partials" / f"{name}.j2").is_file(), name
