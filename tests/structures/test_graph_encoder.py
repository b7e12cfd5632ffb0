"""Packed crystal graphs and the graph encoders: symmetry invariances, supercells, disorder, layout errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from metamat.data.structures import Crystal
from metamat.errors import InputError
from metamat.featurize.graphs import GraphLayout, graph_features, unpack_graph
from metamat.models.meta.base import PoolFeaturePrep
from metamat.models.meta.encoders import build_encoder, passthrough_columns

torch.set_num_threads(1)
_PBC = np.ones(3, bool)


def _crystal(frac, cell, z, occ=None) -> Crystal:
    z = np.asarray(z, np.int64).reshape(len(frac), -1)
    occ = np.ones(z.shape) if occ is None else np.asarray(occ, float).reshape(z.shape)
    cell = np.asarray(cell, float)
    return Crystal(np.asarray(frac, float) @ cell, cell, _PBC.copy(), z, occ)


def _rocksalt(a=5.2, rattle=0.08, seed=0) -> Crystal:
    fcc = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    frac = np.r_[fcc, fcc + [.5, 0, 0]] % 1.0
    cell = a * np.array([[1.0, 0.02, 0.0], [0.0, 0.97, 0.03], [0.01, 0.0, 1.04]])  # low symmetry
    c = _crystal(frac, cell, [11] * 4 + [17] * 4)
    rng = np.random.default_rng(seed)
    return Crystal(c.positions + rattle * rng.normal(size=(8, 3)), c.cell, c.pbc, c.species, c.occupancy)


def _disordered() -> Crystal:
    # bcc cell: one ordered Fe site, one Fe/Co/vacancy mixed site
    return _crystal([[0, 0, 0], [.5, .5, .52]], 2.9 * np.eye(3), [[26, 0], [26, 27]], [[1.0, 0.0], [0.5, 0.3]])


@pytest.fixture(scope="module")
def structures():
    return [_rocksalt(), _disordered()]


@pytest.fixture(scope="module")
def layout(structures):
    return GraphLayout.fit(structures + [c.supercell((2, 2, 1)) for c in structures], cutoff=4.5)


def _encoder(layout, kind="cgcnn", extra_dim=0, seed=0):
    torch.manual_seed(seed)
    enc = build_encoder({"type": kind, "in_dim": layout.width + extra_dim, "hidden": [16], "out_dim": 6,
                         "extra_dim": extra_dim, **layout.to_dict()}).double()
    with torch.no_grad():  # the embedding starts at zero; make it matter for the test
        enc.embed.weight.normal_()
    return enc.eval()


def _encode(enc, crystals, layout) -> np.ndarray:
    """Encoder output on the sparse (real edges) path, checked against the dense (vmap) path."""
    x = torch.as_tensor(graph_features(crystals, layout))
    with torch.no_grad():
        out = enc(x)
        torch.testing.assert_close(torch.func.vmap(enc)(x[None])[0], out, rtol=1e-12, atol=1e-12)
    return out.numpy()


def _moved(c: Crystal, rot: np.ndarray, shift: np.ndarray, perm: np.ndarray | None = None) -> Crystal:
    perm = np.arange(c.n_sites) if perm is None else perm
    return Crystal(c.positions[perm] @ rot.T + shift, c.cell @ rot.T, c.pbc, c.species[perm], c.occupancy[perm])


def _site_environments(X: np.ndarray, layout: GraphLayout) -> list[list[tuple]]:
    """Per structure: per real site, (sorted species/occupancy pairs, sorted neighbour distances)."""
    g = unpack_graph(X, layout)
    out = []
    for b in range(len(X)):
        envs = []
        for i in np.flatnonzero(g["site_mask"][b]):
            sp = tuple(sorted(zip(g["species"][b, i], g["occupancy"][b, i], strict=True)))
            d = np.sort(g["distance"][b, i][g["edge_mask"][b, i] > 0])
            envs.append((sp, d))
        out.append(envs)
    return out


def _same_environments(a, b, perm=None) -> None:
    for ea, eb in zip(a, b, strict=True):
        order = range(len(ea)) if perm is None else perm
        for i, j in enumerate(order):
            assert ea[j][0] == eb[i][0]
            np.testing.assert_allclose(ea[j][1], eb[i][1], atol=1e-9)


def test_layout_and_packing(structures, layout):
    assert layout == GraphLayout.from_dict(layout.to_dict())
    assert passthrough_columns("cgcnn", layout.to_dict()) == layout.width
    assert passthrough_columns("mlp", None) == 0
    X = graph_features(structures, layout)
    assert X.shape == (2, layout.width) and X.dtype == np.float64
    g = unpack_graph(X, layout)
    np.testing.assert_array_equal(g["site_mask"].sum(1), [8, 2])
    d, m = g["distance"], g["edge_mask"] > 0
    assert np.all(d[m] > 0) and np.all(d[m] < layout.cutoff) and np.all(d[~m] == 0)
    assert np.all(np.diff(np.where(m, d, 1e9), axis=-1)[m[..., 1:]] >= 0)  # nearest first
    nbr = g["neighbor"][m]
    np.testing.assert_array_equal(nbr, np.round(nbr))
    # radius graph: the bcc cell has 8 first + 6 second neighbours within 4.5 Å (a = 2.9, third shell 4.10)
    assert m[1, 0].sum() == 8 + 6 + 12
    # the disordered site keeps both species and the vacancy (occupancies 0.5 + 0.3)
    assert tuple(g["species"][1, 1]) == (26, 27, 0) and np.allclose(g["occupancy"][1, 1], [0.5, 0.3, 0])


@pytest.mark.parametrize("kind", ["cgcnn", "schnet"])
def test_invariant_to_euclidean_moves_permutation_and_supercell(structures, layout, kind):
    enc = _encoder(layout, kind)
    rng = np.random.default_rng(1)
    X0 = graph_features(structures, layout)
    ref = _encode(enc, structures, layout)
    assert np.all(np.isfinite(ref)) and np.abs(ref[0] - ref[1]).max() > 1e-3
    proper = Rotation.random(random_state=2).as_matrix()
    improper = proper @ np.diag([1.0, 1.0, -1.0])
    assert np.linalg.det(improper) < 0
    for rot in (np.eye(3), proper, improper):
        moved = [_moved(c, rot, rng.normal(size=3) * 7) for c in structures]
        _same_environments(_site_environments(X0, layout), _site_environments(graph_features(moved, layout), layout))
        np.testing.assert_allclose(_encode(enc, moved, layout), ref, atol=1e-8, rtol=0)
    perms = [rng.permutation(c.n_sites) for c in structures]
    permuted = [_moved(c, np.eye(3), np.zeros(3), p) for c, p in zip(structures, perms, strict=True)]
    for b in range(2):
        _same_environments(_site_environments(X0[b:b + 1], layout),
                           _site_environments(graph_features(permuted[b:b + 1], layout), layout), perms[b])
    np.testing.assert_allclose(_encode(enc, permuted, layout), ref, atol=1e-8, rtol=0)
    supers = [c.supercell((2, 2, 1)) for c in structures]
    env, env_super = _site_environments(X0, layout), _site_environments(graph_features(supers, layout), layout)
    for b, c in enumerate(structures):  # every supercell site has the environment of its primitive site
        _same_environments([env[b]], [env_super[b]], np.arange(4 * c.n_sites) % c.n_sites)
    np.testing.assert_allclose(_encode(enc, supers, layout), ref, atol=1e-8, rtol=0)


def test_distortion_changes_output_and_cutoff_is_smooth(structures, layout):
    enc = _encoder(layout)
    c = structures[0]
    pos = c.positions.copy()
    pos[3] += [0.03, -0.02, 0.01]
    distorted = Crystal(pos, c.cell, c.pbc, c.species, c.occupancy)
    assert np.abs(_encode(enc, [distorted], layout) - _encode(enc, [c], layout)).max() > 1e-5
    # a dimer just inside vs just outside the cutoff: continuous (envelope), isolated atoms beyond it
    cut = layout.cutoff

    def dimer(r):
        return Crystal(np.array([[0, 0, 0], [r, 0, 0.0]]), np.zeros((3, 3)), np.zeros(3, bool),
                       np.array([[8], [26]]), np.ones((2, 1)))

    inside, outside, far = _encode(enc, [dimer(cut - 1e-7), dimer(cut + 1e-7), dimer(3 * cut)], layout)
    np.testing.assert_allclose(inside, outside, atol=1e-9)
    np.testing.assert_allclose(outside, far, atol=1e-12)
    assert np.abs(_encode(enc, [dimer(cut - 0.5)], layout) - far).max() > 1e-4


def test_disordered_site(layout):
    enc = _encoder(layout)
    a = _disordered()
    swapped = Crystal(a.positions, a.cell, a.pbc, a.species[:, ::-1].copy(), a.occupancy[:, ::-1].copy())
    ordered = Crystal(a.positions, a.cell, a.pbc, np.array([[26, 0], [26, 0]]), np.array([[1.0, 0], [1.0, 0]]))
    out = _encode(enc, [a, swapped, ordered], layout)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1], out[0], atol=1e-10)  # slot order within a site does not matter
    assert np.abs(out[2] - out[0]).max() > 1e-4
    with pytest.raises(InputError, match="species_slots=1"):
        graph_features([a], GraphLayout(4, 40, 4.5, species_slots=1))


def test_layout_overflow_raises_input_error(structures):
    with pytest.raises(InputError, match=r"structure index 0 has 8 sites.*max_sites=4") as err:
        graph_features(structures, GraphLayout(max_sites=4, max_neighbors=64, cutoff=4.5))
    assert len(err.value.problems) == 1 and err.value.field == "max_sites"
    with pytest.raises(InputError, match="structure index 1 has a site with 26 neighbours"):
        graph_features(structures, GraphLayout(max_sites=8, max_neighbors=20, cutoff=4.5))


def test_config_round_trip_vmap_and_extra_columns(structures, layout):
    enc = _encoder(layout, extra_dim=3)
    cfg = enc.config()
    assert cfg["type"] == "cgcnn" and cfg["extra_dim"] == 3 and enc.in_dim == layout.width + 3 and enc.out_dim == 6
    twin = build_encoder(cfg).double()
    twin.load_state_dict(enc.state_dict())
    rng = np.random.default_rng(0)
    X = np.c_[graph_features(structures, layout), rng.normal(size=(2, 3))]
    x = torch.as_tensor(X)
    with torch.no_grad():
        out = enc(x)
        torch.testing.assert_close(twin(x), out)
        batched = torch.func.vmap(enc)(torch.stack([x, x.flip(0)]))
        torch.testing.assert_close(batched[0], out)
        torch.testing.assert_close(batched[1], out.flip(0))
        x2 = x.clone()
        x2[:, -1] += 1.0
        assert (enc(x2) - out).abs().max() > 1e-6  # the extra columns are used
    with pytest.raises(ValueError, match="in_dim"):
        build_encoder({**cfg, "in_dim": layout.width + 5})
    with pytest.raises(ValueError, match="one node width"):
        build_encoder({**cfg, "hidden": [16, 16]})
    assert sum(p.numel() for p in enc.parameters()) == sum(p.numel() for p in twin.parameters())


def test_pool_feature_prep_passes_graph_block_through(structures, layout):
    rng = np.random.default_rng(0)
    G = graph_features(structures * 3, layout)
    X = np.c_[G, rng.normal(5.0, 2.0, size=(6, 2))]
    X[0, -1] = np.nan
    prep = PoolFeaturePrep(passthrough=layout.width).fit(X)
    Z = prep.transform(X)
    np.testing.assert_array_equal(Z[:, :layout.width], G)
    np.testing.assert_allclose(np.nanmean(Z[1:, -1]), 0.0, atol=1e-12)
    assert Z[0, -1] == 0.0 and abs(Z[:, -2].std() - 1.0) < 1e-9
    T = prep.transform_tensor(X)
    np.testing.assert_array_equal(T[:, :layout.width].numpy(), G.astype(np.float32))
    np.testing.assert_allclose(T.numpy(), Z, rtol=1e-5, atol=1e-5)
    loaded = PoolFeaturePrep.from_tensors(prep.tensors())
    assert loaded.passthrough_ == layout.width
    np.testing.assert_array_equal(loaded.transform(X), Z)


def test_without_private_functorch_api_the_dense_path_gives_the_same_output(structures, layout, monkeypatch):
    # graph_encoder asks torch._C._functorch (private) whether it runs under vmap; if that API moves, it must
    # fall back to the dense path, which computes the same numbers
    import builtins

    from metamat.models.meta import graph_encoder

    enc = _encoder(layout)
    x = torch.as_tensor(graph_features(structures, layout))
    assert graph_encoder._under_vmap() is False
    with torch.no_grad():
        sparse = enc(x)
    real_import = builtins.__import__

    def no_functorch(name, *args, **kwargs):
        if name.startswith(("torch._C._functorch", "torch._functorch")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "__import__", no_functorch)
        assert graph_encoder._under_vmap() is True
    monkeypatch.setattr(graph_encoder, "_under_vmap", lambda: True)  # what the fallback answers
    with torch.no_grad():
        torch.testing.assert_close(enc(x), sparse, rtol=1e-12, atol=1e-12)
