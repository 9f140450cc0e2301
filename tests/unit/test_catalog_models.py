"""Data-file models: every shipped file validates fully, a bad row fails naming file and row,
and the cached form the catalog reads at run time is exactly what validation produced."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from envspec.catalog import DATA_FILES, Catalog, CatalogDataError, loading
from envspec.catalog.loading import load_documents, rebuild, validate_document


def test_every_file_in_the_data_folder_has_a_model() -> None:
    shipped = {p.name for p in (files("envspec") / "data").iterdir() if p.name.endswith(".yaml")}
    assert shipped == set(DATA_FILES)


@pytest.mark.parametrize("name", sorted(DATA_FILES))
def test_shipped_file_validates_and_its_cached_form_rebuilds_it_exactly(name: str) -> None:
    validated = validate_document(name)
    assert isinstance(validated, DATA_FILES[name])
    rebuilt = rebuild(DATA_FILES[name], validated.model_dump(mode="json"))
    assert rebuilt == validated
    assert repr(rebuilt) == repr(validated)  # tuples stay tuples, rows stay models


ROW = {
    "distros.yaml": "distros:\n  - id: debian12\n    family: debian\n    version: '12'\n"
    "    codename: bookworm\n    docker_image: 'debian:bookworm'\n    sources_layout: deb822\n"
    "    default_gcc: 12\n    gcc_packages: [12]\n    default_python: '3.11'\n    pep668: true\n",
    "torch.yaml": "releases:\n  - {torch: '2.1.2', torchvision: '0.16.2', torchaudio: '2.1.2', "
    "variants: [cu118, cu121], default_cuda: '12.1', python: ['3.11'], index_style: index}\n",
}


@pytest.mark.parametrize(
    ("name", "text", "needles"),
    [
        ("distros.yaml", ROW["distros.yaml"].replace("pep668", "pep688"),
         ["distros[0].pep688", "Extra inputs are not permitted"]),
        ("distros.yaml", ROW["distros.yaml"].replace("family: debian", "family: redhat"),
         ["distros[0].family", "'ubuntu', 'debian', 'rocky' or 'ubi'"]),
        ("distros.yaml", ROW["distros.yaml"].replace("default_gcc: 12", "default_gcc: '12'"),
         ["distros[0].default_gcc", "valid integer"]),
        ("distros.yaml", ROW["distros.yaml"].replace("gcc_packages: [12]", "gcc_packages: [12.5]"),
         ["distros[0].gcc_packages[0]"]),
        ("distros.yaml", ROW["distros.yaml"].replace("    codename: bookworm\n", ""),
         ["distros[0].codename", "Field required"]),
        ("torch.yaml", ROW["torch.yaml"].replace("'12.1'", "12.1"),
         ["releases[0].default_cuda", "quote versions"]),
        ("torch.yaml", ROW["torch.yaml"].replace("index_style: index", "index_style: index, "
                                                 "uncertain_variants: [cu124]"),
         ["releases[0]", "subset of `variants`"]),
        ("torch.yaml", ROW["torch.yaml"].replace("cu118", "cuda118"), ["variants[0]", "cu121"]),
        ("cuda_gcc.yaml", "limits:\n  - {cuda: '12.4', max: 13}\n", ["limits[0].min", "required"]),
        ("cuda_drivers.yaml", "minor_version_compat: []\nbranches: [{cuda: '13.0', branch: 580}]\n"
         "toolkits: []\n", ["branches[0].branch", "valid string"]),
        ("cuda_drivers.yaml", "minor_version_compat: []\ntoolkits: []\n",
         ["top-level section `branches`"]),
        ("mirrors.yaml", "mirrors:\n  - name: m\n    urls: {pypi: 'http://m/simple/'}\n",
         ["mirrors[0].urls.pypi", "https://"]),
        ("mirrors.yaml", "mirrors:\n  - name: m\n    urls: {pipy: 'https://m/simple/'}\n",
         ["mirrors[0].urls.pipy"]),
        ("import_names.yaml", "import_names:\n  opencv-python: 'cv2; rm'\n",
         ["import_names.opencv-python", "module path"]),
        ("ppas.yaml", "ppas:\n  deadsnakes/ppa: {fingerprint: f23c}\n", ["fingerprint"]),
        ("conda.yaml", "installers:\n  miniforge: {version: '1', url: 'https://x/a.sh', python: '3.11'}\n",
         ["installers.miniforge", "{version} and {arch}"]),
        ("cuda_images.yaml", "images: [{cuda: '12.4', os: debian12, status: eol, "
         "last_seen: '2020-01-01', variants: [base]}]", ["images[0].os", "an OS id like ubuntu22.04"]),
        ("cuda_images.yaml", "images: 3", ["top-level list `images`"]),
        ("cuda_images.yaml", "- a\n", ["mapping of sections at the top level"]),
    ],
)
def test_a_bad_row_fails_naming_file_row_and_key(name: str, text: str, needles: list[str]) -> None:
    with pytest.raises(CatalogDataError) as info:
        validate_document(name, text)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    for needle in needles:
        assert needle in message, message


def test_the_sample_rows_above_are_valid() -> None:
    """The broken cases differ from these in one place each, so each case tests that place."""
    for name, text in ROW.items():
        validate_document(name, text)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "envspec" / "catalog"


def _catalog_facts(catalog: Catalog) -> tuple[object, ...]:
    return (catalog.cuda_images(), catalog.distros(), catalog.torch_releases(), catalog.mirrors(),
            dict(catalog.import_names()), catalog.ppa("deadsnakes/ppa"),
            catalog.conda_installer("miniforge"), catalog.driver_requirement("12.4"),
            catalog.gcc_max("11.4.1"))


def test_a_warm_cache_is_read_without_validating(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = Catalog(load_documents())
    [written] = list(cache_home.iterdir())
    fresh = Catalog()  # validates every file, no cache

    def no_validation(name: str, text: str | None = None) -> None:
        raise AssertionError(f"{name} validated again")

    monkeypatch.setattr(loading, "validate_document", no_validation)
    warm = Catalog(load_documents())
    assert _catalog_facts(warm) == _catalog_facts(cold) == _catalog_facts(fresh)
    assert list(cache_home.iterdir()) == [written]


def test_an_edited_data_file_is_validated_again(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_documents()
    [before] = list(cache_home.iterdir())
    shipped = loading.data_text

    def edited(name: str) -> str:
        text = shipped(name)
        return text.replace("name: tuna", "name: tsinghua") if name == "mirrors.yaml" else text

    monkeypatch.setattr(loading, "data_text", edited)
    assert Catalog(load_documents()).mirror("tsinghua") is not None
    [after] = list(cache_home.iterdir())  # the entry for the old content is gone
    assert after != before


def test_an_edited_data_file_with_an_error_still_fails_with_a_warm_cache(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_documents()
    shipped = loading.data_text
    monkeypatch.setattr(loading, "data_text", lambda name: shipped(name).replace(
        "pep668: true", "pep668: yes please"))
    with pytest.raises(CatalogDataError, match=r"distros\.yaml: distros\[\d\]\.pep668"):
        load_documents()


def test_a_corrupt_cache_entry_is_replaced(cache_home: Path) -> None:
    load_documents()
    [entry] = list(cache_home.iterdir())
    entry.write_text('{"torch.yaml": [', encoding="utf-8")
    assert Catalog(load_documents()).torch_release("2.1.2") is not None
    assert entry.read_text(encoding="utf-8").startswith('{"cuda_images.yaml"')


def test_an_unwritable_cache_folder_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert Catalog(load_documents()).distro("debian12") is not None
