"""Packed crystal graphs and the graph encoders: any size, symmetry invariances, supercells, disorder, and the
shipped structure model (trained on the old padded layout) reproducing its original predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from metamat.data.structures import Crystal
from metamat.featurize.graph_encoder import unpack_rows
from metamat.featurize.graphs import HEADER, GraphLayout, graph_features, pad_rows
from metamat.models.meta.encoders import build_encoder, passthrough_columns, row_tail

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
def layout():
    return GraphLayout(cutoff=4.5)


def _encoder(layout, kind="cgcnn", extra_dim=0, seed=0):
    torch.manual_seed(seed)
    enc = build_encoder({"type": kind, "in_dim": HEADER + extra_dim, "hidden": [16], "out_dim": 6,
                         "extra_dim": extra_dim, **layout.to_dict()}).double()
    with torch.no_grad():  # the embedding starts at zero; make it matter for the test
        enc.embed.weight.normal_()
    return enc.eval()


def _encode(enc, crystals, layout) -> np.ndarray:
    x = torch.as_tensor(graph_features(crystals, layout))
    with torch.no_grad():
        return enc(x).numpy()


def _moved(c: Crystal, rot: np.ndarray, shift: np.ndarray, perm: np.ndarray | None = None) -> Crystal:
    perm = np.arange(c.n_sites) if perm is None else perm
    return Crystal(c.positions[perm] @ rot.T + shift, c.cell @ rot.T, c.pbc, c.species[perm], c.occupancy[perm])


def _site_environments(X: np.ndarray, layout: GraphLayout) -> list[list[tuple]]:
    """Per structure: per real site, (sorted species/occupancy pairs, sorted neighbour distances)."""
    g = {k: v.numpy() for k, v in unpack_rows(torch.as_tensor(X)).items()}
    offsets = np.r_[0, np.cumsum(X[:, 0].astype(int))]
    out = []
    for b in range(len(X)):
        envs = []
        for i in range(offsets[b], offsets[b + 1]):
            sp = tuple(sorted((z, o) for z, o in zip(g["species"][i], g["occupancy"][i], strict=True) if o > 0))
            envs.append((sp, np.sort(g["distance"][g["center"] == i])))
        out.append(envs)
    return out


def _same_environments(a, b, perm=None) -> None:
    for ea, eb in zip(a, b, strict=True):
        order = range(len(ea)) if perm is None else perm
        for i, j in enumerate(order):
            assert ea[j][0] == eb[i][0]
            np.testing.assert_allclose(ea[j][1], eb[i][1], atol=1e-9)


def test_packing(structures, layout):
    assert layout == GraphLayout.from_dict(layout.to_dict())
    # the old padded layout's size options are read and ignored
    assert GraphLayout.from_dict({"max_sites": 50, "max_neighbors": 67, "cutoff": 4.5}) == layout
    assert passthrough_columns("cgcnn", {"extra_dim": 5}) == HEADER and row_tail("cgcnn", {"extra_dim": 5}) == 5
    assert passthrough_columns("mlp", None) == 0 and row_tail("mlp") is None
    X = graph_features(structures, layout)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X[:, 0], [8, 2])     # sites
    np.testing.assert_array_equal(X[:, 2], [1, 2])     # species slots: ordered, one Fe/Co mixed site
    # radius graph: a bcc site (a = 2.9) has 8 first, 6 second and 12 third neighbours within 4.5 Å
    # (2.51, 2.90, 4.10 Å); 2 sites x 26 directed edges = 26 stored pairs
    assert X[1, 1] == 26
    assert X.shape[1] == HEADER + max(8 * 2 * 1 + 3 * X[0, 1], 2 * 2 * 2 + 3 * 26)
    g = unpack_rows(torch.as_tensor(X))
    d = g["distance"].numpy()
    assert np.all(d > 0) and np.all(d < layout.cutoff)
    deg = np.bincount(g["center"].numpy(), minlength=10)
    np.testing.assert_array_equal(deg[8:], [26, 26])
    # the disordered site keeps both species and the vacancy (occupancies 0.5 + 0.3)
    assert tuple(g["species"][9].tolist()) == (26, 27) and np.allclose(g["occupancy"][9], [0.5, 0.3])
    assert tuple(g["species"][8].tolist()) == (26, 0) and np.allclose(g["occupancy"][8], [1.0, 0.0])
    # rows built separately stack after padding, with the same meaning
    a, b = graph_features(structures[:1], layout), graph_features(structures[1:], layout)
    assert a.shape[1] != b.shape[1]
    np.testing.assert_array_equal(np.vstack(pad_rows([a, b]))[:, :X.shape[1]], X)


def test_any_size_linear_and_batch_independent(structures, layout):
    enc = _encoder(layout)
    big = structures[0].supercell((4, 4, 4))                     # 512 sites
    assert big.n_sites == 512
    out = _encode(enc, [structures[1], big, structures[0]], layout)
    ref = _encode(enc, structures, layout)
    np.testing.assert_allclose(out[1], ref[0], atol=1e-8)        # supercell = primitive (mean pooling)
    np.testing.assert_allclose(out[[2, 0]], ref, atol=1e-10)     # a row does not depend on its batch-mates
    X = graph_features([big], layout)
    # storage linear in sites: 512 sites x 2 + 3 x pairs, pairs = 64 x those of the 8-site cell
    assert X[0, 1] == 64 * graph_features(structures[:1], layout)[0, 1]
    assert X.shape[1] == HEADER + 512 * 2 + 3 * X[0, 1]


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
    # a four-species site (more than the old layout's 3 slots) is fine
    wide = Crystal(a.positions, a.cell, a.pbc, np.array([[26, 0, 0, 0], [26, 27, 28, 25]]),
                   np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.2, 0.2]]))
    out = _encode(enc, [a, swapped, ordered, wide], layout)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1], out[0], atol=1e-10)  # slot order within a site does not matter
    assert np.abs(out[2] - out[0]).max() > 1e-4 and np.abs(out[3] - out[0]).max() > 1e-4
    # node input of a mixed site = occupancy-weighted sum of the species' embeddings (linear in the table)
    table = (enc.embed.weight + enc.props(enc.element_props.double())).detach().numpy()
    g = unpack_rows(torch.as_tensor(graph_features([wide], layout)))
    v = (table[g["species"].numpy()] * g["occupancy"].numpy()[..., None]).sum(1)
    np.testing.assert_allclose(v[1], 0.25 * table[26] + 0.25 * table[27] + 0.2 * table[28] + 0.2 * table[25])


def test_config_round_trip_and_extra_columns(structures, layout):
    enc = _encoder(layout, extra_dim=3)
    cfg = enc.config()
    assert cfg["type"] == "cgcnn" and cfg["extra_dim"] == 3 and enc.out_dim == 6 and "max_sites" not in cfg
    twin = build_encoder(cfg).double()
    twin.load_state_dict(enc.state_dict())
    legacy = build_encoder({**cfg, "max_sites": 50, "max_neighbors": 67, "species_slots": 3}).double()
    legacy.load_state_dict(enc.state_dict())
    with pytest.raises(TypeError, match="unknown options"):
        build_encoder({**cfg, "max_site": 50})
    rng = np.random.default_rng(0)
    X = np.c_[graph_features(structures, layout), rng.normal(size=(2, 3))]
    x = torch.as_tensor(X)
    with torch.no_grad():
        out = enc(x)
        torch.testing.assert_close(twin(x), out)
        torch.testing.assert_close(legacy(x), out)
        x2 = x.clone()
        x2[:, -1] += 1.0
        assert (enc(x2) - out).abs().max() > 1e-6  # the extra columns are used
        bigger = np.c_[graph_features([structures[0].supercell((2, 1, 1))], layout), X[:1, -3:]]
        wider = torch.as_tensor(pad_rows([X, bigger], 3)[0])
        assert wider.shape[1] > x.shape[1]
        torch.testing.assert_close(enc(wider), out)  # zero padding is ignored


def _reference_structures():
    from ase.build import bulk

    return [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.431), bulk("Cu", "fcc", a=3.615),
            bulk("MgO", "rocksalt", a=4.212), bulk("ZnO", "wurtzite", a=3.25, c=5.207),
            bulk("GaAs", "zincblende", a=5.653), bulk("LiF", "rocksalt", a=4.03), bulk("Fe", "bcc", a=2.87),
            bulk("Al", "fcc", a=4.05).repeat((2, 1, 1))]


# Produced by the ORIGINAL padded encoder at commit 3bcc5c3 (main before issue 14), in a temporary worktree:
#   git worktree add --detach /tmp/structref/wt 3bcc5c3 && cd /tmp/structref/wt && PYTHONPATH=. python ref.py
# where ref.py loads metamat.fewshot.load_fewshot_model(structure=True), builds X with
# metamat.tasks.structure_tasks.model_inputs for _reference_structures(), fits on the first 6 with
# y = _REF_Y and predicts the last 3; the embeddings are the encoder output (first 4 of 64 dims).
_REF_Y = np.array([-4.27, -5.42, -3.73, -5.96, -4.5, -4.2])
_REF_MEAN = np.array([-4.6801113113, -4.6977566203, -4.6627831128])
_REF_STD = np.array([1.8692896552, 1.8687891223, 1.8670034277])
_REF_EMBED = np.array([[6.1277337074, -4.6753563881, 4.1204614639, 2.6727283001],
                       [3.1555707455, -2.8659701347, 1.5123075247, 2.2827050686],
                       [6.5742297173, -4.5007433891, 2.0488979816, 6.9130401611],
                       [12.9755172729, -15.8456344604, 11.7553672791, 11.3059339523],
                       [9.9636487961, -10.7328414917, 9.3350324631, 7.0137925148],
                       [7.1428108215, -4.2295646667, 3.1731257439, 1.6422772408],
                       [14.5348300934, -16.1948242188, 12.9652986526, 16.1767749786],
                       [1.7585831881, -2.1028478146, -0.8688761592, 4.108859539],
                       [6.4788198471, -5.2198405266, 2.9097652435, 4.2234969139]])


def test_shipped_structure_model_reproduces_padded_encoder():
    from metamat.data.structures import to_crystal
    from metamat.featurize.structure import crystal_formula
    from metamat.fewshot import load_fewshot_model
    from metamat.tasks.structure_tasks import model_inputs

    crystals = [to_crystal(s) for s in _reference_structures()]
    m = load_fewshot_model(structure=True)
    X = model_inputs(m, crystals, [crystal_formula(c) for c in crystals])
    m.fit(X[:6], _REF_Y)
    mu, sd = m.predict(X[6:], return_std=True)
    np.testing.assert_allclose(mu, _REF_MEAN, rtol=1e-5)
    np.testing.assert_allclose(sd, _REF_STD, rtol=1e-5)
    enc = [mod for mod in m.net_.modules() if isinstance(mod, type(build_encoder({"type": "cgcnn", "in_dim": 3})))][0]
    with torch.no_grad():
        emb = enc(m.prepare(X)).double().numpy()
    np.testing.assert_allclose(emb[:, :4], _REF_EMBED, rtol=1e-5, atol=1e-5)
    # and now a structure far beyond the old max_sites=50 predicts too
    big = model_inputs(m, [crystals[0].supercell((4, 4, 4))], ["NaCl"])
    assert np.isfinite(m.predict(big)).all()
