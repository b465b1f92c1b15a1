"""Small-Gain Nash certificates: the algebra against closed forms, the claims against simulation."""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy.linalg import expm
from scipy.optimize import brentq

from discover.types import EvalContext, Outcome, Status
from games.small_gain_nash import (Ball, Box, Chart, Region, Simplex, certify, convex_weights,
                                   entropic_matrix_game, gain_radius, margin, quadratic_game, region_constants,
                                   simulate, timescale_band)
from games.small_gain_nash.examples import EXAMPLES
from games.small_gain_nash.game import SmallGainNashGame
from games.small_gain_nash.geometry import block_norms, coordinate_weights
from games.small_gain_nash.steps import rk4_rule
from games.small_gain_nash.verify import recheck

# Two scalar players: unit curvatures, couplings 3 and 0.2. Product 0.6 < 1, but the symmetrised
# Jacobian [[1, 1.6], [1.6, 1]] is indefinite: Euclidean monotonicity fails.
Q2 = np.array([[1.0, 3.0], [0.2, 1.0]])


def two_player(Q=Q2, q=(1.0, -1.0)):
    return quadratic_game(Q, q=np.array(q))


def test_band_matches_closed_form_and_the_sign_of_the_small_gain_matrix():
    for mu1, mu2, l12, l21 in [(1.0, 1.0, 3.0, 0.2), (2.0, 0.5, 1.5, 0.3), (1.0, 3.0, 0.1, 4.0)]:
        mu, L = np.array([mu1, mu2]), np.array([[0.0, l12], [l21, 0.0]])
        lo, hi = timescale_band(mu, L)
        closed = [(math.sqrt(mu1 * mu2) + s * math.sqrt(mu1 * mu2 - l12 * l21)) ** 2 / l21 ** 2 for s in (-1, 1)]
        assert lo == pytest.approx(closed[0], rel=1e-12) and hi == pytest.approx(closed[1], rel=1e-12)

        # independently: the band's ends are where lambda_min(S(1, r)) changes sign
        def smallest(r, mu=mu, L=L):
            return margin(np.array([1.0, r]), mu, L)
        peak = math.sqrt(lo * hi)
        assert smallest(peak) > 0
        assert brentq(smallest, lo / 10, peak, xtol=1e-14, rtol=1e-14) == pytest.approx(lo, rel=1e-9)
        assert brentq(smallest, peak, hi * 10, xtol=1e-14, rtol=1e-14) == pytest.approx(hi, rel=1e-9)
        assert smallest(lo * (1 - 1e-6)) < 0 < smallest(lo * (1 + 1e-6))
        assert smallest(hi * (1 + 1e-6)) < 0 < smallest(hi * (1 - 1e-6))
    assert timescale_band(np.array([1.0, 1.0]), np.array([[0.0, 3.0], [0.5, 0.0]])) is None  # product 1.5


def test_euclidean_test_fails_but_small_gain_certifies():
    game = two_player()
    assert np.linalg.eigvalsh((Q2 + Q2.T) / 2)[0] < 0  # not monotone in the Euclidean metric
    cert = certify(game, 1.0)
    assert cert.certified and not cert.euclidean_monotone
    assert cert.equal_weights_margin < 0 < cert.margin
    lo, hi = cert.band
    assert lo < cert.weights[1] / cert.weights[0] < hi  # the optimal weights lie in the timescale band
    assert cert.gain ** 2 == pytest.approx(0.6)
    assert cert.equilibrium == pytest.approx(np.linalg.solve(Q2, [-1.0, 1.0]))


def test_flow_contracts_at_the_certified_rate():
    """For F = Q x + q the flow is x(t) - x* = expm(-Q t)(x0 - x*): its gain in the metric is checked exactly."""
    for Q, dims in [(Q2, (1, 1)), (EXAMPLES["coupled-quadratic"].build().jacobian, (2, 2))]:
        cert = certify(quadratic_game(Q, dims=dims), 1.0)
        s = np.sqrt(coordinate_weights(cert.weights, cert.blocks))
        for t in (0.1, 0.5, 1.0, 3.0, 10.0):
            gain = np.linalg.norm(s[:, None] * expm(-Q * t) / s[None, :], 2)
            assert gain <= math.exp(-cert.rate * t) * (1 + 1e-9)


@pytest.mark.parametrize("name", ["coupled-quadratic", "cyclic-quadratic", "entropic-matrix"])
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_simulation_contracts_at_no_less_than_the_certified_factor(name, method):
    game = EXAMPLES[name].build()
    geometry = "entropic" if name == "entropic-matrix" else "euclidean"
    cert = certify(game, EXAMPLES[name].scale, geometry=geometry)
    assert cert.certified and cert.constants.rigorous and not cert.euclidean_monotone
    run = simulate(game, cert, method, starts=64, steps=40, seed=1)
    assert run.contracts, run.summary()
    assert run.worst_ratio > 0.5 * cert.euler.factor ** 40  # the simulation really moved
    assert np.all(run.distances[:, 0] <= (cert.basin if method == "euler" else cert.rk4_basin) * (1 + 1e-12))


def test_euler_beyond_the_safe_step_can_expand():
    """The step bound is not vacuous: far beyond 2m/L_w^2 the iteration expands in some direction."""
    game = two_player()
    cert = certify(game, 1.0)
    Q, eta = Q2, 20 * cert.euler.max_step
    assert max(abs(np.linalg.eigvals(np.eye(2) - eta * Q))) > 1


@pytest.mark.parametrize("constants", ["sampled", "interval"])
def test_certificate_holds_on_random_pairs(constants):
    """Strong monotonicity in the metric, <G(x) - G(y), W(x - y)> >= m ||x - y||_w^2, at random pairs."""
    game = EXAMPLES["tanh-coupled"].build()
    cert = certify(game, 0.2, partition="coordinates", samples=256, constants=constants)
    assert cert.constants.method == constants
    assert cert.certified if constants == "interval" else cert.estimated and not cert.certified
    chart = Chart(game, "euclidean")
    generator = torch.Generator().manual_seed(0)
    c = torch.tensor(cert.region.centre, dtype=torch.float64)
    x = c + cert.region.radius * (2 * torch.rand(2000, 4, generator=generator, dtype=torch.float64) - 1)
    y = c + cert.region.radius * (2 * torch.rand(2000, 4, generator=generator, dtype=torch.float64) - 1)
    field = torch.func.vmap(chart.field)
    d, dG = x - y, field(x) - field(y)
    w = torch.as_tensor(coordinate_weights(cert.weights, cert.blocks))
    inner = (dG * w * d).sum(-1)
    assert bool((inner >= cert.margin * block_norms(d, cert.weights, cert.blocks) ** 2).all())
    assert bool((block_norms(dG, cert.weights, cert.blocks) <= cert.lipschitz * block_norms(d, cert.weights, cert.blocks)).all())


# cyclic (7 s) and entropic (9 s) run with -m slow: the convex-vs-BO agreement is coupled's here, and
# both games' certificates (the entropic geometry included) are tested by default elsewhere in this file
@pytest.mark.parametrize("name,partition", [("coupled-quadratic", "players"),
                                            pytest.param("cyclic-quadratic", "players", marks=pytest.mark.slow),
                                            pytest.param("entropic-matrix", "players", marks=pytest.mark.slow)])
def test_convex_and_bo_weight_searches_agree(name, partition):
    game = EXAMPLES[name].build()
    geometry = "entropic" if name == "entropic-matrix" else "euclidean"
    convex = certify(game, EXAMPLES[name].scale, geometry=geometry, partition=partition, weights="convex")
    bo = certify(game, EXAMPLES[name].scale, geometry=geometry, partition=partition, weights="bo")
    assert convex.status == bo.status != "not certified"
    assert bo.margin == pytest.approx(convex.margin, rel=1e-3)
    assert bo.margin <= convex.margin * (1 + 1e-6)  # the convex search is the ground truth


def test_certifiable_exactly_when_the_gain_is_below_one():
    rng = np.random.default_rng(3)
    for _ in range(15):
        n = int(rng.integers(2, 5))
        mu = rng.uniform(0.5, 2.0, n)
        L = rng.uniform(0, 1.5, (n, n)) * (rng.uniform(size=(n, n)) < 0.7)
        gain = gain_radius(mu, L)
        if abs(gain - 1) < 0.02:
            continue  # too close to call at the bisection's tolerance
        search = convex_weights(mu, L)
        assert (search.margin > 0) == (gain < 1), (mu, L, gain, search.margin)
        assert search.margin == pytest.approx(margin(search.weights, mu, L), rel=1e-12)


def test_product_above_one_is_not_certified_and_says_why():
    game = EXAMPLES["uncertifiable-quadratic"].build()
    for weights in ("convex", "bo"):
        cert = certify(game, 1.0, weights=weights, bo_budget=10)
        assert not cert.certified and cert.margin < 0
        assert "1.5 >= 1" in cert.reason
        assert cert.weights is None and cert.euler is None and cert.rk4 is None and cert.band is None
    with pytest.raises(ValueError, match="does not certify"):
        simulate(game, cert)
    outcome = SmallGainNashGame("uncertifiable-quadratic").evaluate(
        ("euclidean", "players", 1.0, 0.0, "exact", "convex"), EvalContext())
    assert outcome.status is Status.INFEASIBLE and "product" in outcome.message


def test_entropic_geometry_is_mirror_descent_with_curvature_tau():
    A = np.array([[0.0, 4.0, -2.0], [-2.0, 0.0, 4.0], [4.0, -2.0, 0.0]])
    game = entropic_matrix_game(A, 0.1 * A.T, tau=(0.7, 1.3))
    chart = Chart(game, "entropic")
    cert = certify(game, 0.5, geometry="entropic", constants="sampled", safety=0.0, samples=64)
    assert cert.constants.mu == pytest.approx([0.7, 1.3], rel=1e-9)  # entropy = curvature tau in logits
    proven = region_constants(chart, cert.region, cert.blocks, "interval", max_boxes=64)
    assert proven.mu == pytest.approx([0.7, 1.3], rel=1e-9) and np.all(proven.mu <= [0.7, 1.3])
    # one Euler step in the chart is one multiplicative-weights step on the strategies
    x = torch.tensor([0.2, 0.5, 0.3, 0.6, 0.1, 0.3], dtype=torch.float64)
    eta = 0.3
    z_next = chart.field(chart.from_primal(x))
    stepped = chart.to_primal(chart.from_primal(x) - eta * z_next)
    F = game.pseudo_gradient(x)
    mw = torch.cat([x[:3] * torch.exp(-eta * F[:3]), x[3:] * torch.exp(-eta * F[3:])])
    mw = torch.cat([mw[:3] / mw[:3].sum(), mw[3:] / mw[3:].sum()])
    assert torch.allclose(stepped, mw, atol=1e-14)
    # the certified equilibrium is the regularised Nash equilibrium: soft best responses to each other
    xs = chart.to_primal(torch.as_tensor(cert.equilibrium))
    assert torch.allclose(xs[:3], torch.softmax(-torch.as_tensor(A) @ xs[3:] / 0.7, 0), atol=1e-9)


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="not exactly symmetric"):
        quadratic_game(np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), dims=(2, 1))
    with pytest.raises(ValueError, match="positive radius"):
        Region((0.0, 0.0), 0.0)
    ball_game = quadratic_game(np.eye(3), dims=(2, 1), sets=(Ball(2), Box(1, -1.0, 1.0)))
    with pytest.raises(ValueError, match="Ball set"):
        certify(ball_game, partition="coordinates")
    with pytest.raises(ValueError, match="simplex"):
        certify(two_player(), geometry="entropic")
    with pytest.raises(ValueError, match="unknown example"):
        SmallGainNashGame("no-such-game")
    entropic = EXAMPLES["entropic-matrix"].build()
    with pytest.raises(ValueError, match="cannot be enclosed"):
        certify(entropic, 0.5, geometry="euclidean")  # the box leaves the simplex's interior
    with pytest.raises(ValueError, match="not finite"):
        certify(entropic, 0.5, geometry="euclidean", constants="sampled")
    with pytest.raises(ValueError, match="exact constants"):
        certify(entropic, 0.5, geometry="entropic", constants="exact")


def test_game_evaluates_verifies_and_pickles():
    game = SmallGainNashGame("cyclic-quadratic", objective="region", bo_budget=8)
    state = ("euclidean", "players", 2.0, 0.5, "exact", "convex")
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK and outcome.value == 2.0
    assert game.verify(state, outcome) is None
    forged = dict(outcome.artifacts, weights=[1.0, 100.0, 0.01])
    assert "margin" in game.verify(state, Outcome.ok(2.0, forged))
    clone = pickle.loads(pickle.dumps(game))
    assert clone.evaluate(state, EvalContext()).artifacts["margin"] == outcome.artifacts["margin"]
    assert Simplex(3).project(torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)).sum().item() == pytest.approx(1)


def test_equilibria_are_found_without_a_hint_interior_or_held_by_the_sets():
    # the unconstrained solution (-10, 3) lies outside the boxes: the equilibrium sits on x1's lower bound
    game = quadratic_game(Q2, q=np.array([1.0, -1.0]), sets=(Box(1, -2.0, 2.0), Box(1, -2.0, 2.0)))
    cert = certify(game, 3.0)
    x = cert.equilibrium
    F = Q2 @ x + np.array([1.0, -1.0])
    assert x[0] == pytest.approx(-2.0) and F[0] > 0 and F[1] == pytest.approx(0.0, abs=1e-9)  # KKT conditions
    assert cert.rk4 is None and "RK4" in cert.notes[0]
    assert simulate(game, cert, "euler", starts=32, steps=30).contracts
    tanh = EXAMPLES["tanh-coupled"].build()
    tanh.equilibrium = None
    found = certify(tanh, 0.2, partition="coordinates")
    assert np.abs(found.equilibrium).max() < 1e-12


def test_no_rk4_step_is_certified_without_a_basin():
    # the unconstrained equilibrium (-10, 3) lies outside the region of radius 3 around 0: Euler's pairwise
    # factor holds on the region, but RK4's stages from a point of the region need not stay in it
    game = two_player()
    cert = certify(game, Region((0.0, 0.0), 3.0))
    assert cert.certified and cert.basin is None and cert.rk4 is None and cert.rk4_basin is None
    assert any("RK4" in note for note in cert.notes)
    claim = cert.to_dict()
    assert recheck(game, claim) is None
    rule = rk4_rule(cert.margin, cert.lipschitz)  # a step whose factor is right, were the stages in the region
    forged = dict(claim, rk4={"step": rule.step, "factor": rule.factor, "max_step": rule.max_step})
    assert "basin" in recheck(game, forged)
