"""The pretrained crystal-graph encoder as a frozen featurizer (``graph_pretrained``).

Invariances (physical: the embedding of a crystal must not depend on its orientation, origin, site order or
choice of cell) to 1e-6 absolute; loading refuses damaged, modified or missing files with an InputError;
pretraining is bit-reproducible for a seed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from metamat.errors import InputError
from metamat.featurize.graph_embedding import (
    PRETRAINED_ENCODER,
    EncoderFileError,
    GraphEmbedding,
    load_encoder,
    read_encoder_config,
    size_chunks,
)
from metamat.featurize.structure import featurize_structures
from tests.structures.test_structure_descriptors import _structures, invariance_set

ROOT = Path(__file__).resolve().parents[2]


def _embed(crystals, path=None) -> np.ndarray:
    return featurize_structures(crystals, [GraphEmbedding(path)])[0]


@pytest.fixture(scope="module")
def runs():
    crystals, keys = invariance_set()
    return _embed(crystals), keys


def test_embedding_invariant_to_rotation_translation_permutation_supercell(runs):
    X, keys = runs
    assert X.shape[1] == 64 and np.all(np.isfinite(X))
    ref = {name: X[i] for i, (name, kind) in enumerate(keys) if kind == "original"}
    checked = set()
    for x, (name, kind) in zip(X, keys, strict=True):
        if kind in ("original", "distorted"):
            continue
        np.testing.assert_allclose(x, ref[name], rtol=0, atol=1e-6, err_msg=f"{name}: {kind}")
        checked.add(kind)
    assert {"translation", "rotation", "reflection", "permutation", "supercell 2x2x1", "supercell 2x2x2"} <= checked


def test_embedding_sees_structure(runs):
    """A 0.05 Å displacement of one atom changes the embedding; different crystals differ clearly."""
    X, keys = runs
    ref = {name: X[i] for i, (name, kind) in enumerate(keys) if kind == "original"}
    for x, (name, kind) in zip(X, keys, strict=True):
        if kind == "distorted" and name != "molecule":
            assert np.abs(x - ref[name]).max() > 1e-6, name
    assert np.abs(ref["Si"] - ref["NaCl"]).max() > 1e-2


def test_embedding_does_not_depend_on_batch_companions():
    """Rows are padded to the largest structure of a chunk: one at a time must give the same numbers."""
    crystals = list(_structures().values())
    together = _embed(crystals)
    alone = np.vstack([_embed([c]) for c in crystals])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-10)


def test_size_chunks_cover_every_structure_within_budget():
    sites = np.array([5, 400, 3, 3, 60, 1, 12, 12])
    chunks = size_chunks(sites, max_padded=64)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(len(sites)))
    for c in chunks:
        assert len(c) == 1 or len(c) * sites[c].max() <= 64


def test_shipped_encoder_records_its_training_quantities():
    cfg = read_encoder_config()
    groups = {t["quantity"] for t in cfg["training"]["meta_train_tasks"]}
    assert groups and not groups & {"band gap", "thermodynamic stability", "exfoliation energy"}
    from metamat.models.leakage import overlap

    assert overlap(cfg["training"], ["volume per atom"]) == ["volume per atom"]
    assert overlap(cfg["training"], ["exfoliation energy"]) == []


# ------------------------------------------------------------------------------------------- damaged files
@pytest.fixture
def copy_encoder(tmp_path) -> Path:
    for suffix in (".safetensors", ".json"):
        shutil.copy(PRETRAINED_ENCODER.with_suffix(suffix), tmp_path / f"enc{suffix}")
    return tmp_path / "enc"


def test_intact_copy_loads(copy_encoder):
    encoder, cfg = load_encoder(copy_encoder)
    assert cfg["encoder"]["out_dim"] == 64 and encoder.out_dim == 64


@pytest.mark.parametrize("damage, message", [
    ("flip_byte", "SHA-256"), ("truncate", "SHA-256"), ("no_tensors", "not found"), ("no_json", "not found"),
    ("bad_json", "not valid JSON"), ("wrong_format", "not a graph-encoder file"),
    ("wrong_shape", "do not fit"), ("no_cutoff", "out of range"),
])
def test_damaged_encoder_is_refused(copy_encoder, damage, message):
    st, js = copy_encoder.with_suffix(".safetensors"), copy_encoder.with_suffix(".json")
    if damage == "flip_byte":
        data = bytearray(st.read_bytes())
        data[-3] ^= 0x01
        st.write_bytes(bytes(data))
    elif damage == "truncate":
        st.write_bytes(st.read_bytes()[:-100])
    elif damage == "no_tensors":
        st.unlink()
    elif damage == "no_json":
        js.unlink()
    elif damage == "bad_json":
        js.write_text("{not json")
    elif damage == "wrong_format":
        js.write_text(json.dumps({**json.loads(js.read_text()), "format": "other"}))
    elif damage == "no_cutoff":
        cfg = json.loads(js.read_text())
        del cfg["encoder"]["cutoff"]
        js.write_text(json.dumps(cfg))
    elif damage == "wrong_shape":  # consistent checksum, but the config says another width
        cfg = json.loads(js.read_text())
        cfg["encoder"]["hidden"] = [32]
        js.write_text(json.dumps(cfg))
    with pytest.raises(InputError, match=message) as info:
        load_encoder(copy_encoder)
    assert isinstance(info.value, EncoderFileError)
    if damage != "no_json":
        with pytest.raises(InputError):
            _embed(list(_structures().values())[:1], copy_encoder)


# ------------------------------------------------------------------------------------------- reproducibility
def _pretrain_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("pretrain_graph_encoder",
                                                  ROOT / "scripts" / "pretrain_graph_encoder.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_pretraining_is_reproducible_for_a_seed(monkeypatch):
    import torch

    mod = _pretrain_module(monkeypatch)
    crystals = list(_structures().values()) * 2
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(len(crystals), 2))
    Y[::3, 1] = np.nan  # unlabelled entries are masked
    tasks = (("a", "x", "a", "qa", "identity"), ("b", "x", "b", "qb", "identity"))
    data = mod.PretrainSet(crystals, Y, np.repeat([0, 1], len(crystals) // 2), ["x", "y"])
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [mod.train(data, 1, 4, 2e-3, seed, val_share=0.25, log=lambda s: None, tasks=tasks)
                for seed in (0, 0, 1)]
    finally:
        torch.set_num_threads(old)
    a, b, c = (r["history"][0]["train_loss"] for r in runs)
    assert a == b and np.isfinite(a)
    assert a != c
    for (k, v), w in zip(runs[0]["encoder"].state_dict().items(), runs[1]["encoder"].state_dict().values(),
                         strict=True):
        assert torch.equal(v, w), k


# ------------------------------------------------------------------------------------------- structure auto
def _nacl_set(n: int, rng: np.random.Generator):
    from metamat.data.structures import Crystal

    fcc = np.array([[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
    frac = np.r_[fcc, (fcc + [.5, 0, 0]) % 1]
    a = rng.uniform(5.2, 6.0, n)
    crystals = [Crystal(frac @ (x * np.eye(3)), x * np.eye(3), np.ones(3, bool),
                        np.array([[11]] * 4 + [[17]] * 4), np.ones((8, 1))) for x in a]
    return crystals, ["NaCl"] * n, a


@pytest.mark.parametrize("exclude", [(), ("volume per atom",)])
def test_structure_auto_embedding_candidate_and_leakage_guard(exclude):
    import warnings

    from metamat.models.structure_auto import StructureAutoRegressor

    crystals, formulas, y = _nacl_set(16, np.random.default_rng(0))
    sa = StructureAutoRegressor(graph_model=None, candidates=("rf", "median"), structure_candidates=("knn",),
                                embedding_candidates=("knn",), rf_trees=20, exclude_quantities=exclude)
    X = sa.structure_inputs(crystals, formulas)
    assert X.shape[1] == sa.blocks_["embedding"][1] and sa.blocks_["embedding"][1] - sa.blocks_["embedding"][0] == 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa.fit(X, y)
    if exclude:
        assert "knn+embedding" not in sa.choice_["table"]
        assert "leakage guard" in sa.choice_["dropped"]["knn+embedding"]
    else:
        assert "knn+embedding" in sa.choice_["table"]
        # one composition, the lattice parameter varies: only structure inputs can follow it
        assert sa.choice_["table"]["knn+embedding"]["cv_mae"] < 0.5 * sa.choice_["table"]["composition"]["cv_mae"]
