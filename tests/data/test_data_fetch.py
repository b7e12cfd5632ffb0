"""Downloading datasets: against a local HTTP server on 127.0.0.1 serving files the tests write (no internet)."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from local_http import serve

from metamat.data import registry
from metamat.data.fetch import fetch_dataset
from metamat.data.registry import DatasetSpec, get_spec, list_datasets, load_dataset, locate_dataset
from metamat.data.sources import convert
from metamat.data.sources.download import ChecksumError, download, mirrored
from metamat.data.sources.origins import Origin, Remote, SourceFile
from metamat.data.table import TargetSpec
from metamat.errors import DataSourceError
from metamat.files import partial_path

ORIGINAL = "https://raw.githubusercontent.com/example/crab/0123456789abcdef0123456789abcdef01234567/data/demo"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


pytestmark = pytest.mark.usefixtures("isolated_fetch_dirs")


def blob(n: int = 300_000) -> bytes:
    return bytes((7 * i + i // 251) % 256 for i in range(n))


# --- one file: checksum, corruption, interruption, 503 ---------------------------------------------------
def test_good_download_is_verified_and_placed(tmp_path):
    data = blob()
    with serve() as srv:
        srv.files["/f.bin"] = data
        out = download(f"{srv.base_url}/f.bin", tmp_path / "f.bin", sha256=sha(data), backoff=0.01)
    assert out.read_bytes() == data and not partial_path(out).exists()
    assert srv.requests == [("/f.bin", None)]


def test_corrupt_download_raises_and_leaves_nothing(tmp_path):
    data = blob()
    with serve() as srv:
        srv.files["/f.bin"] = data[:-1] + b"\x00"  # one byte changed in transit / upstream
        with pytest.raises(ChecksumError, match="SHA-256"):
            download(f"{srv.base_url}/f.bin", tmp_path / "f.bin", sha256=sha(data), backoff=0.01)
    assert sorted(os.listdir(tmp_path)) == []


def test_interrupted_download_resumes_with_range(tmp_path):
    data = blob()
    with serve() as srv:
        srv.files["/f.bin"] = data
        srv.plan["/f.bin"] = ["drop"]  # first response: half the body, then the connection closes
        seen: list[tuple[int, int | None]] = []
        out = download(f"{srv.base_url}/f.bin", tmp_path / "f.bin", sha256=sha(data), backoff=0.01,
                       progress=lambda done, total: seen.append((done, total)))
    assert out.read_bytes() == data
    ranges = srv.ranges("/f.bin")
    assert len(ranges) == 1
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", ranges[0]).group(1))
    assert 0 < resumed_at <= len(data) // 2  # only the missing part was sent again
    assert seen[-1] == (len(data), len(data))


def test_503_is_retried_then_succeeds(tmp_path):
    data = b"formula,target\nNaCl,1.0\n"
    with serve() as srv:
        srv.files["/f.csv"] = data
        srv.plan["/f.csv"] = ["503", "503"]
        out = download(f"{srv.base_url}/f.csv", tmp_path / "f.csv", sha256=sha(data), backoff=0.01)
        assert len(srv.requests) == 3
    assert out.read_bytes() == data


def test_503_forever_gives_a_clean_error(tmp_path):
    with serve() as srv:
        srv.files["/f.csv"] = b"x"
        srv.plan["/f.csv"] = ["503"] * 10
        with pytest.raises(DataSourceError, match="after 3 attempts.*put the file at"):
            download(f"{srv.base_url}/f.csv", tmp_path / "f.csv", retries=2, backoff=0.01)
        assert len(srv.requests) == 3


def test_404_fails_at_once(tmp_path):
    with serve() as srv:
        with pytest.raises(DataSourceError, match="HTTP 404"):
            download(f"{srv.base_url}/missing.csv", tmp_path / "m.csv", backoff=0.01)
        assert len(srv.requests) == 1


def test_mirror_rewrites_host_and_path(monkeypatch):
    url = "https://raw.githubusercontent.com/a/b/c.csv"
    assert mirrored(url) == url
    assert mirrored(url, "http://127.0.0.1:9/m/") == "http://127.0.0.1:9/m/raw.githubusercontent.com/a/b/c.csv"
    monkeypatch.setenv("METAMAT_FETCH_MIRROR", "http://proxy.local")
    assert mirrored(url) == "http://proxy.local/raw.githubusercontent.com/a/b/c.csv"


# --- a whole dataset: CrabNet-style train/val/test -> merged table the loader reads ----------------------
SPLITS = {"train": b"formula,target\nNaCl,1.5\nNaN,0.25\nFe2O3,2.0\n",  # NaN = sodium nitride, kept
          "val": b"formula,target\nKCl,3.0\n",
          "test": b"formula,target\nMgO,4.5\nSiO2,5.0"}  # no final newline, as some originals
MERGED = (b"formula,target,split\nNaCl,1.5,train\nNaN,0.25,train\nFe2O3,2.0,train\nKCl,3.0,val\n"
          b"MgO,4.5,test\nSiO2,5.0,test\n")  # written by hand: the layout of shared/data/crabnet_benchmark


def demo_spec(content_sha: str = sha(MERGED), raw_sha: dict[str, str | None] | None = None) -> DatasetSpec:
    raw_sha = raw_sha or {k: sha(v) for k, v in SPLITS.items()}
    origin = Origin(sources=("https://github.com/example/crab",), doi="10.0/demo", license="MIT", how="fetch",
                    files=tuple(SourceFile(k, (Remote(f"{ORIGINAL}/{k}.csv", raw_sha[k]),)) for k in SPLITS),
                    converter=convert.merge_splits, content_sha256=content_sha, size=100, package="fakecrab")
    return DatasetSpec(name="demo_crab", path="demo/demo_crab.csv.gz",
                       targets={"target": TargetSpec("target", "eV")}, formula_column="formula",
                       citation="demo", license="MIT", description="demo", duplicates="keep", origin=origin)


@pytest.fixture
def demo_dataset(monkeypatch):
    def install(spec: DatasetSpec) -> DatasetSpec:
        monkeypatch.setitem(registry._REGISTRY, spec.name, spec)
        return spec
    return install


def serve_splits(srv, splits=SPLITS) -> None:
    for split, data in splits.items():
        srv.files[f"/raw.githubusercontent.com/example/crab/0123456789abcdef0123456789abcdef01234567/data/demo/"
                  f"{split}.csv"] = data


def test_fetch_converts_crabnet_splits_to_the_loader_layout(tmp_path, demo_dataset):
    demo_dataset(demo_spec())
    with serve() as srv:
        serve_splits(srv)
        result = fetch_dataset("demo_crab", mirror=srv.base_url, backoff=0.01)
        again = fetch_dataset("demo_crab", mirror=srv.base_url)
        assert len(srv.requests) == 3  # the second call found the file and downloaded nothing
    default_place = tmp_path / "xdg" / "metamat" / "demo" / "demo_crab.csv.gz"
    assert result.status == "fetched" and result.path == default_place and again.status == "present"
    assert gzip.decompress(default_place.read_bytes()) == MERGED
    assert not list((tmp_path / "cache" / "downloads").rglob("*.csv"))  # raw files cleaned up
    table = load_dataset("demo_crab")  # no data_dir, no METAMAT_DATA_DIR: found in the user data dir
    assert table.report.notes[0] == f"loaded from {default_place}"
    assert list(table.data["formula"]) == ["NaCl", "NaN", "Fe2O3", "KCl", "MgO", "SiO2"]
    assert list(table.data["split"]) == ["train"] * 3 + ["val"] + ["test"] * 2
    assert table.target("target").tolist() == [1.5, 0.25, 2.0, 3.0, 4.5, 5.0]


def test_fetch_into_an_explicit_data_dir(tmp_path, demo_dataset):
    demo_dataset(demo_spec())
    with serve() as srv:
        serve_splits(srv)
        result = fetch_dataset("demo_crab", tmp_path / "mine", mirror=srv.base_url, backoff=0.01)
    assert result.path == tmp_path / "mine" / "demo" / "demo_crab.csv.gz"
    assert locate_dataset("demo_crab", tmp_path / "mine").path == result.path


def test_fetch_with_wrong_converted_checksum_writes_nothing(tmp_path, demo_dataset):
    demo_dataset(demo_spec(content_sha="0" * 64, raw_sha=dict.fromkeys(SPLITS)))
    with serve() as srv:
        serve_splits(srv)
        with pytest.raises(ChecksumError, match="nothing was written"):
            fetch_dataset("demo_crab", mirror=srv.base_url, backoff=0.01)
    assert not (tmp_path / "xdg").exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_fetch_falls_back_to_the_next_remote(tmp_path, demo_dataset):
    spec = demo_spec()
    bad = Remote(f"{ORIGINAL}/gone/train.csv", sha(SPLITS["train"]))
    files = (SourceFile("train", (bad, *spec.origin.files[0].remotes)), *spec.origin.files[1:])
    demo_dataset(replace(spec, origin=replace(spec.origin, files=files)))
    with serve() as srv:
        serve_splits(srv)
        assert fetch_dataset("demo_crab", mirror=srv.base_url, backoff=0.01).status == "fetched"
        assert sum(p.endswith("/gone/train.csv") for p, _ in srv.requests) == 1


def test_package_copy_is_found_without_download(tmp_path, monkeypatch, demo_dataset):
    spec = demo_spec()
    files = tuple(SourceFile(f.role, (*f.remotes, Remote("https://example.org/w.whl", None,
                                                         member=f"fakecrab/data/{f.role}.csv")))
                  for f in spec.origin.files)
    demo_dataset(replace(spec, origin=replace(spec.origin, files=files)))
    assert locate_dataset("demo_crab") is None
    (tmp_path / "site" / "fakecrab" / "data").mkdir(parents=True)
    (tmp_path / "site" / "fakecrab" / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    for split, data in SPLITS.items():
        (tmp_path / "site" / "fakecrab" / "data" / f"{split}.csv").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    location = locate_dataset("demo_crab")
    assert location.kind == "package" and location.package == "fakecrab"
    table = load_dataset("demo_crab")
    assert "fakecrab package" in table.report.notes[0] and "fakecrab" not in sys.modules
    assert list(table.data["formula"]) == ["NaCl", "NaN", "Fe2O3", "KCl", "MgO", "SiO2"]
    assert table.target("target").tolist() == [1.5, 0.25, 2.0, 3.0, 4.5, 5.0]


def test_manual_dataset_says_how(tmp_path, demo_dataset):
    manual = Origin(sources=("https://example.org/lab",), doi="10.0/lab", license="CC-BY", how="manual",
                    instructions="manual: ask the lab for lab.csv and save it as demo/demo_crab.csv.gz")
    demo_dataset(replace(demo_spec(), origin=manual))
    with pytest.raises(DataSourceError, match="cannot be downloaded by metamat: manual: ask the lab for lab.csv"):
        fetch_dataset("demo_crab", tmp_path)


# --- the catalogue ---------------------------------------------------------------------------------------
def test_every_dataset_states_origin_doi_license_and_how():
    for spec in list_datasets():
        o = spec.origin
        assert o is not None and o.sources and o.license and o.how in ("fetch", "package", "manual"), spec.name
        assert re.fullmatch(r"10\.\d{4,5}/\S+(; 10\.\d{4,5}/\S+)*", o.doi), (spec.name, o.doi)
        if o.how == "fetch":
            assert o.content_sha256 is None or re.fullmatch(r"[0-9a-f]{64}", o.content_sha256), spec.name
            for f in o.files:
                for r in f.remotes:  # a pinned SHA-256, or a commit / released wheel in the URL, never a branch
                    assert (r.sha256 and re.fullmatch(r"[0-9a-f]{64}", r.sha256)) or re.search(
                        r"/[0-9a-f]{40}/", r.url) or r.url.endswith("crabnet-2.0.8-py3-none-any.whl"), r.url
            assert o.pinned == (o.checksums == "pinned"), spec.name
        assert o.instructions, spec.name
    fetchable = [s.name for s in list_datasets() if s.origin.how == "fetch"]
    assert len(fetchable) == 41  # 18 CrabNet + 13 matbench + 3 roost + 7 converted from GitHub or matbench files
    assert not [s.name for s in list_datasets() if s.origin.how == "manual"]
    assert get_spec("ricci_transport").origin.how == "package"
    recorded = {s.name for s in list_datasets() if s.origin.how == "fetch" and not s.origin.pinned}
    assert recorded == {"c2db", "2dmatpedia", "2dmatpedia_structures", "jarvis_epc_tc", "perov_5", "carbon_24"}


def test_pinned_checksums_match_the_shared_copies(shared_data_dir):
    """The pins equal the decompressed shared files, except where the shared copy lost the formula 'NaN'."""
    for spec in list_datasets():
        if spec.origin.how != "fetch" or spec.origin.content_sha256 is None:
            continue
        content = gzip.decompress((shared_data_dir / spec.path).read_bytes())
        if spec.name in ("mp_e_hull", "mp_mu_b"):
            assert content.count(b"\n,") == 1  # the one row pandas emptied
            content = content.replace(b"\n,", b"\nNaN,", 1)
        assert sha(content) == spec.origin.content_sha256, spec.name


def test_merge_splits_round_trips_a_shared_crabnet_table(shared_data_dir):
    """Split a shared table back into train/val/test files and merge them again: the same bytes."""
    content = gzip.decompress((shared_data_dir / "crabnet_benchmark/aflow__ael_bulk_modulus_vrh.csv.gz").read_bytes())
    lines = content.decode().splitlines()
    parts = {s: ["formula,target"] for s in ("train", "val", "test")}
    for line in lines[1:]:
        row, split = line.rsplit(",", 1)
        parts[split].append(row)
    files = [(s, ("\n".join(rows) + "\n").encode()) for s, rows in parts.items()]
    assert convert.merge_splits(files) == content
    # data rows of CrabNet's train/val/test.csv (`wc -l` on the crabnet 2.0.8 wheel, minus headers): 4896 in all
    assert [len(r) - 1 for r in parts.values()] == [3428, 732, 736]


def test_cli_errors_speak_cli(tmp_path):
    with pytest.raises(DataSourceError) as err:
        load_dataset("aflow__Egap")
    assert "data_dir=" in str(err.value)  # Python callers get the Python argument
    env = {k: v for k, v in os.environ.items() if k != "METAMAT_DATA_DIR"}
    out = subprocess.run([sys.executable, "-m", "metamat", "data", "show", "aflow__Egap"], capture_output=True,
                         text=True, env=env, cwd=Path(__file__).parents[2], timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    text = " ".join(out.stderr.split())
    assert "use --data-dir DIR or set METAMAT_DATA_DIR" in text and "run `metamat data fetch aflow__Egap`" in text
    assert "data_dir=" not in text


def test_cli_fetch_command_downloads(tmp_path, demo_dataset):
    from typer.testing import CliRunner

    from metamat.cli import app

    demo_dataset(demo_spec())
    with serve() as srv:
        serve_splits(srv)
        result = CliRunner().invoke(app, ["data", "fetch", "demo_crab", "--mirror", srv.base_url,
                                          "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert gzip.decompress((tmp_path / "d" / "demo" / "demo_crab.csv.gz").read_bytes()) == MERGED
    assert "demo_crab: fetched" in result.output


def test_cli_list_shows_how(tmp_path):
    from typer.testing import CliRunner

    from metamat.cli import app

    result = CliRunner().invoke(app, ["data", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if line.startswith("│ aflow__Egap "))
    assert "fetch 0.4 MB" in row and "│ no " in row
    row = next(line for line in result.output.splitlines() if line.startswith("│ ricci_transport "))
    assert "matminer package" in row


def test_partial_file_left_by_a_killed_process_is_resumed(tmp_path):
    data = blob()
    dest = tmp_path / "f.bin"
    partial_path(dest).write_bytes(data[:100_000])  # what an interrupted earlier run left behind
    with serve() as srv:
        srv.files["/f.bin"] = data
        download(f"{srv.base_url}/f.bin", dest, sha256=sha(data), backoff=0.01)
    assert dest.read_bytes() == data and srv.ranges("/f.bin") == ["bytes=100000-"]


def test_member_of_a_wheel_is_extracted_and_verified(tmp_path, demo_dataset):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split, data in SPLITS.items():
            archive.writestr(f"fakecrab/data/{split}.csv", data)
    wheel = buffer.getvalue()
    url = "https://files.pythonhosted.org/packages/aa/fakecrab-1.0-py3-none-any.whl"
    files = tuple(SourceFile(k, (Remote(url, sha(wheel), member=f"fakecrab/data/{k}.csv", member_sha256=sha(v)),))
                  for k, v in SPLITS.items())
    demo_dataset(replace(demo_spec(), origin=replace(demo_spec().origin, files=files)))
    with serve() as srv:
        srv.files["/files.pythonhosted.org/packages/aa/fakecrab-1.0-py3-none-any.whl"] = wheel
        result = fetch_dataset("demo_crab", mirror=srv.base_url, backoff=0.01)
        assert len(srv.requests) == 1  # one archive download serves all three files
    assert gzip.decompress(result.path.read_bytes()) == MERGED


def test_official_matbench_file_is_downloaded_and_verified(tmp_path, monkeypatch, small_structures):
    import json

    from metamat.data.sources import matbench

    ids = ["mb-dielectric-0001", "mb-dielectric-0002"]
    doc = {"index": ids, "columns": ["structure", "n"],
           "data": [[s.as_dict(), n] for s, n in zip(small_structures[:2], [3.4, 1.5], strict=True)]}
    official = gzip.compress(json.dumps(doc).encode())
    monkeypatch.setitem(matbench.MATBENCH_SHA256, "dielectric", sha(official))
    with serve() as srv:
        srv.files["/ml.materialsproject.org/projects/matbench_dielectric.json.gz"] = official
        table = matbench.load_matbench("dielectric", tmp_path / "c", mirror=srv.base_url)
        assert list(table.ids) == ids and table.target("n").tolist() == [3.4, 1.5]
        monkeypatch.setitem(matbench.MATBENCH_SHA256, "glass", sha(official))
        srv.files["/ml.materialsproject.org/projects/matbench_glass.json.gz"] = official[:-1] + b"\x01"
        with pytest.raises(ChecksumError):
            matbench.load_matbench("glass", tmp_path / "c", mirror=srv.base_url)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["matbench_dielectric.json.gz"]
