"""Damaged and hostile model files (issue 18): every one gives ``cannot read model PATH: reason`` (an
InputError, CLI exit 2) -- never a SafetensorError, JSONDecodeError, AttributeError or code execution.

The corpus is built from copies of the shipped default model, each damaged in one way."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from metamat.errors import InputError
from metamat.models import registry
from metamat.models.io import ModelFileError

SHIPPED = registry.default_model_path()


def _copy(tmp_path: Path, name: str = "m") -> Path:
    base = tmp_path / name
    for suffix in (".safetensors", ".json"):
        shutil.copy(SHIPPED.with_suffix(suffix), base.with_suffix(suffix))
    return base


def _edit_json(base: Path, edit) -> None:
    cfg = json.loads(base.with_suffix(".json").read_text())
    edit(cfg)
    base.with_suffix(".json").write_text(json.dumps(cfg))


def _edit_tensors(base: Path, edit) -> None:
    t = load_file(str(base.with_suffix(".safetensors")))
    edit(t)
    save_file(t, str(base.with_suffix(".safetensors")))


def _set(path: tuple[str, ...], value):
    def edit(cfg):
        d = cfg
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return edit


def _st_bytes(data: bytes):
    return lambda base: base.with_suffix(".safetensors").write_bytes(data)


def _truncate(base: Path) -> None:
    f = base.with_suffix(".safetensors")
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _header_garbage(base: Path) -> None:
    body = b"{not json" + b" " * 7
    base.with_suffix(".safetensors").write_bytes(struct.pack("<Q", len(body)) + body)


def _nan_weight(t):
    k = next(k for k in t if k.startswith("net.") and t[k].dtype == np.float32)
    t[k] = t[k].copy()
    t[k].flat[0] = np.nan


CASES = {
    # safetensors damage
    "empty safetensors": (_st_bytes(b""), "truncated"),
    "8-byte safetensors": (_st_bytes(b"\x00" * 8), "not a valid safetensors"),
    "truncated safetensors": (_truncate, "truncated"),
    "random bytes": (_st_bytes(np.random.default_rng(0).bytes(5000)), "header claims|truncated|not a valid"),
    "oversized header": (_st_bytes(struct.pack("<Q", 1 << 40) + b"{}"), "header claims"),
    "header not JSON": (_header_garbage, "not a valid safetensors"),
    "missing safetensors": (lambda b: b.with_suffix(".safetensors").unlink(), "not found"),
    "NaN weight": (lambda b: _edit_tensors(b, _nan_weight), "NaN or infinite"),
    "missing prep tensor": (lambda b: _edit_tensors(b, lambda t: t.pop("prep.mean")), "lacks tensors"),
    "unknown tensor": (lambda b: _edit_tensors(b, lambda t: t.update({"evil": np.zeros(1)})), "unknown tensors"),
    "wrong tensor shape": (lambda b: _edit_tensors(b, lambda t: t.update({"prep.low": np.zeros(3)})), "shape"),
    # JSON damage
    "missing JSON": (lambda b: b.with_suffix(".json").unlink(), "not found"),
    "empty JSON": (lambda b: b.with_suffix(".json").write_text(""), "not valid JSON"),
    "JSON not UTF-8": (lambda b: b.with_suffix(".json").write_bytes(b"\xff\xfe{"), "not valid JSON"),
    "deeply nested JSON": (lambda b: b.with_suffix(".json").write_text("[" * 100000), "not valid JSON"),
    "JSON array": (lambda b: b.with_suffix(".json").write_text("[1, 2]"), "JSON object"),
    "no model key": (lambda b: _edit_json(b, lambda c: c.pop("model")), "has no 'model'"),
    "format version 2": (lambda b: _edit_json(b, _set(("format_version",), 2)), "unsupported model format"),
    "format version text": (lambda b: _edit_json(b, _set(("format_version",), "1")), "must be int"),
    "n_features text": (lambda b: _edit_json(b, _set(("n_features",), "148")), "must be int"),
    "n_features wrong": (lambda b: _edit_json(b, _set(("n_features",), 149)), "config says 149"),
    "params a list": (lambda b: _edit_json(b, _set(("params",), [])), "must be dict"),
    "fitted a string": (lambda b: _edit_json(b, _set(("fitted",), "x")), "must be dict"),
    "calibration wrong": (lambda b: _edit_json(b, _set(("fitted", "calibration"), "x")), "calibration must"),
    # names that are not in the registry, or not a saved-model type
    "model os:system": (lambda b: _edit_json(b, _set(("model",), "os:system")), "not a saved-model type"),
    "model by module path": (lambda b: _edit_json(b, _set(("model",), "metamat.models.meta.maml:MAMLRegressor")),
                             "not a saved-model type"),
    "model a baseline": (lambda b: _edit_json(b, _set(("model",), "rf")), "not a saved-model type"),
    "model a number": (lambda b: _edit_json(b, _set(("model",), 3)), "must be str"),
    # constructor parameters
    "__class__ param": (lambda b: _edit_json(b, _set(("params", "__class__"), "os.system")),
                        "invalid parameter name"),
    "unknown param": (lambda b: _edit_json(b, _set(("params", "bogus"), 1)), "unknown parameter"),
    "hidden a string": (lambda b: _edit_json(b, _set(("params", "hidden"), "128")), "'hidden' must be like"),
    "inner_lr a string": (lambda b: _edit_json(b, _set(("params", "inner_lr"), "fast")), "'inner_lr' must"),
    "inner_lr NaN": (lambda b: _edit_json(b, _set(("params", "inner_lr"), float("nan"))), "'inner_lr' must"),
    "meta_sgd an int": (lambda b: _edit_json(b, _set(("params", "meta_sgd"), 1)), "'meta_sgd' must"),
    "huge layer": (lambda b: _edit_json(b, _set(("params", "hidden"), [10**9])), "out of range"),
    "negative layer": (lambda b: _edit_json(b, _set(("params", "hidden"), [-5])), "RuntimeError|ValueError"),
    "unknown encoder": (lambda b: _edit_json(b, _set(("params", "encoder"), "nope")), "unknown encoder"),
    "other widths": (lambda b: _edit_json(b, _set(("params", "hidden"), [32])), "RuntimeError"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_model_file_gives_a_clean_input_error(case, tmp_path):
    damage, reason = CASES[case]
    base = _copy(tmp_path)
    damage(base)
    with pytest.raises(ModelFileError, match=reason) as info:
        registry.load_model(base)
    err = info.value
    assert isinstance(err, InputError)
    assert str(err).startswith(f"cannot read model {base}: ")
    assert err.source == str(base)


def test_the_undamaged_copy_loads(tmp_path):
    """The corpus damages a file that is otherwise good (so each case tests its one damage)."""
    base = _copy(tmp_path)
    assert registry.registry_name(registry.load_model(base)) == "metasgd"
    assert registry.registry_name(registry.load(f"pretrained:{base}")) == "metasgd"


def test_a_path_that_does_not_exist_names_the_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match=r"cannot read model .*nothing: nothing.json not found"):
        registry.load(str(tmp_path / "nothing"))


@pytest.mark.slow
def test_cli_fewshot_with_a_damaged_model_exits_2_naming_the_path(tmp_path):
    base = _copy(tmp_path, "broken")
    _truncate(base)
    (tmp_path / "s.csv").write_text("formula,y\n" + "".join(f"{f},{v}\n" for f, v in zip(
        ["NaCl", "KCl", "LiF", "MgO", "CaO", "SrO"], [1, 2, 3, 4, 5, 6], strict=True)))
    (tmp_path / "q.csv").write_text("formula\nNaBr\n")
    result = subprocess.run([sys.executable, "-m", "metamat", "fewshot", "-s", "s.csv", "-q", "q.csv", "-o",
                             "out.csv", "--model", str(base.with_suffix(".safetensors"))],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2, result.stderr
    assert f"cannot read model {base}" in result.stderr and "truncated" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.csv").exists()
