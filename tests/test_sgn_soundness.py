"""Small-Gain Nash soundness: what is called certified is proven, estimates say so, verify() re-derives.

Adversarial games hide a narrow Gaussian bump of the Jacobian (and, in the referee's construction, a
second Nash equilibrium) where samples rarely look.
"""

import math

import numpy as np
import pytest
import torch

from discover.types import EvalContext, Outcome, Status
from games.small_gain_nash import (Chart, DifferentiableGame, Reals, Region, certify, margin, quadratic_game,
                                   region_constants)
from games.small_gain_nash.bounds import block_statistics, jacobian_enclosure
from games.small_gain_nash.examples import EXAMPLES, two_equilibria
from games.small_gain_nash.game import SmallGainNashGame
from games.small_gain_nash.geometry import block_norms
from games.small_gain_nash.rational import fraction, margin_lower
from games.small_gain_nash.steps import rk4_q2, rk4_rule
from games.small_gain_nash.verify import recheck


def bump_game(A: float, width: float, centre: tuple[float, float], entry: str) -> DifferentiableGame:
    """Two scalar players, curvature 1, couplings 0.2, plus A w^2 x1 x2 g (or x1^2 x2 g / x2^2 x1 g) with a
    Gaussian g of width w: a Jacobian bump of height ~A in one entry, invisible outside ~3 w of its centre."""
    c = torch.tensor(centre, dtype=torch.float64)

    def g(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return torch.exp(-((x1 - c[0]) ** 2 + (x2 - c[1]) ** 2) / (2 * width ** 2))

    def first(blocks):
        x1, x2 = blocks[0][0], blocks[1][0]
        extra = A * width ** 2 * (x1 * x2 if entry == "coupling" else x1 ** 2) * g(x1, x2)
        return 0.5 * x1 ** 2 + 0.2 * x1 * x2 + (extra if entry != "second" else 0)

    def second(blocks):
        x1, x2 = blocks[0][0], blocks[1][0]
        extra = A * width ** 2 * x2 ** 2 * g(x1, x2) if entry == "second" else 0
        return 0.5 * x2 ** 2 + 0.2 * x1 * x2 + extra

    return DifferentiableGame([first, second], [Reals(1), Reals(1)], equilibrium=np.zeros(2), name="bump")


def attained(game: DifferentiableGame, points: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The Jacobian's worst curvatures and largest couplings at the given points (autograd)."""
    chart = Chart(game)
    mu, L, _ = block_statistics(chart.jacobians(points), chart.blocks())
    return mu, L


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.0])
def test_the_referee_bump_game_gets_an_answer_not_an_exception(radius):
    """m / L_w >~ 0.38 made the RK4 step search's bracket invalid (brentq raised)."""
    game = bump_game(40.0, 0.01, (0.3, 0.3), "coupling")
    for constants in ("auto", "sampled"):
        cert = certify(game, radius, constants=constants)
        assert cert.certified or cert.reason
        if cert.estimated or cert.certified:
            assert cert.rk4 is None or cert.rk4.factor < 1


def test_identity_game_is_certified():
    cert = certify(quadratic_game(np.eye(2)))
    assert cert.certified and cert.margin == pytest.approx(1.0, rel=1e-9) and cert.margin <= 1.0
    assert cert.rk4 is not None and cert.rk4.factor < 1 and cert.rk4.step < cert.rk4.max_step


@pytest.mark.parametrize("ratio", [0.01, 0.05, 0.2, 0.3, 0.38, 0.45, 0.5, 0.7, 0.9, 0.99, 1.0])
def test_rk4_rule_contracts_up_to_its_largest_step(ratio):
    m, lipschitz = ratio * 2.0, 2.0
    rule = rk4_rule(m, lipschitz)
    assert rule is not None and 0 < rule.step < rule.max_step and rule.factor < 1
    q2 = rk4_q2(fraction(rule.max_step), fraction(m), fraction(lipschitz))
    assert q2 is not None and q2 < 1
    beyond = rk4_q2(fraction(rule.max_step * (1 + 1e-6)), fraction(m), fraction(lipschitz))
    assert beyond is None or beyond >= 1  # and it is the largest such step, up to the search's tolerance


def test_two_equilibria_game_has_two_equilibria():
    game = two_equilibria()
    for p in ([0.0, 0.0], [0.5, 0.25]):
        assert torch.allclose(game.pseudo_gradient(torch.tensor(p, dtype=torch.float64)), torch.zeros(2, dtype=torch.float64),
                              atol=1e-15)


@pytest.mark.parametrize("samples", [64, 512, 4096])
def test_sampled_constants_never_certify_the_two_equilibria_game(samples):
    game = two_equilibria()
    for seed in range(5):
        cert = certify(game, 1.0, constants="sampled", samples=samples, seed=seed)
        assert not cert.certified
        if cert.estimated:
            assert "ESTIMATED" in cert.summary() and "certified:" not in cert.summary()
            assert cert.to_dict()["status"] == "estimated"


@pytest.mark.parametrize("c,t,width", [(0.5, 0.5, 0.003), (0.5, -0.8, 0.01), (0.3, 0.6, 0.001), (0.7, 0.3, 0.02)])
def test_rigorous_constants_never_certify_a_basin_holding_the_second_equilibrium(c, t, width):
    game = two_equilibria(c, t, width)
    p = torch.tensor([t, c * t], dtype=torch.float64)
    small = certify(game, 0.25)  # holds the origin, and (t, c t) only when |t| <= 0.25
    assert small.constants.rigorous
    if small.certified and small.basin is not None:
        star = torch.as_tensor(small.equilibrium)
        assert float(block_norms(p - star, small.weights, small.blocks)) > small.basin
    cert = certify(game, 1.0)
    assert cert.constants.rigorous and not cert.certified and "curvature" in cert.reason
    offsets = width * torch.cartesian_prod(*[torch.linspace(-3, 3, 31, dtype=torch.float64)] * 2)
    bump_mu, _ = attained(game, p + offsets)
    assert cert.constants.mu[0] <= bump_mu[0] < -100  # the bump is found, not averaged away


@pytest.mark.parametrize("entry", ["coupling", "own", "second"])
@pytest.mark.parametrize("centre,width", [((0.3, 0.3), 0.01), ((-0.6, 0.45), 0.003), ((0.05, -0.9), 0.03)])
def test_interval_constants_enclose_the_jacobian_at_and_around_the_bump(entry, centre, width):
    game = bump_game(40.0, width, centre, entry)
    chart = Chart(game)
    found = region_constants(chart, Region.around(chart, game.start(), 1.0), chart.blocks(), "interval")
    near = torch.tensor(centre, dtype=torch.float64) + width * torch.linspace(-3, 3, 25, dtype=torch.float64)[:, None] \
        * torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    grid = torch.cartesian_prod(*[torch.linspace(-1, 1, 41, dtype=torch.float64)] * 2)
    mu, L = attained(game, torch.cat([near, grid, torch.tensor([centre], dtype=torch.float64)]))
    assert np.all(found.mu <= mu) and np.all(found.L >= L)
    assert np.all(found.mu >= mu - 0.02 * max(abs(mu).max(), L.max()) - 1e-9) or found.boxes >= 4000  # and tight


def test_jet_hessians_enclose_autograd_at_random_points():
    """Exp, log, tanh, sqrt, powers, quotients and matrix products: the enclosure holds at every point of the box."""
    M = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)

    def loss(blocks):
        x, y = blocks
        return (torch.exp(x @ M @ y) / (2 + torch.sum(x ** 2)) + torch.log(1.5 + torch.tanh(y[0])) * torch.sqrt(2 + x[1])
                - torch.sum(x ** 3 * y) + (x[0] - y[1]) ** 4)

    game = DifferentiableGame([loss, loss], [Reals(2), Reals(2)])
    rng = np.random.default_rng(0)
    lo = rng.uniform(-0.5, 0.3, (16, 4))
    hi = lo + rng.uniform(0.0, 0.3, (16, 4))
    J = jacobian_enclosure(Chart(game), lo, hi)
    u = torch.as_tensor(rng.uniform(size=(16, 50, 4)))
    points = torch.as_tensor(lo)[:, None] + u * torch.as_tensor(hi - lo)[:, None]
    exact = Chart(game).jacobians(points.reshape(-1, 4)).reshape(16, 50, 4, 4).numpy()
    assert np.all(J.lo[:, None] <= exact) and np.all(exact <= J.hi[:, None])


def test_unsupported_operations_fall_back_to_an_estimate_and_say_why():
    def wavy(blocks):
        x, y = blocks
        return 0.5 * x @ x + 0.1 * torch.sum(torch.sin(x) * y)

    def plain(blocks):
        y = blocks[1]
        return 0.5 * y @ y

    game = DifferentiableGame([wavy, plain], [Reals(1), Reals(1)], equilibrium=np.zeros(2))
    cert = certify(game, 1.0)
    assert cert.estimated and not cert.certified and "sin" in cert.constants.fallback
    with pytest.raises(ValueError, match="interval constants are not available.*sin"):
        certify(game, 1.0, constants="interval")


def test_margin_is_proven_below_the_floating_margin():
    rng = np.random.default_rng(1)
    for _ in range(10):
        n = int(rng.integers(2, 5))
        mu, L, w = rng.uniform(1, 2, n), rng.uniform(0, 0.3, (n, n)), rng.uniform(0.5, 2, n)
        m = margin_lower(w, mu, L)
        assert m <= margin(w, mu, L) and m == pytest.approx(margin(w, mu, L), rel=1e-9)


def certified_outcome(name: str, estimator: str, partition: str = "players", geometry: str = "euclidean"):
    game = SmallGainNashGame(name, bo_budget=8)
    state = (geometry, partition, EXAMPLES[name].scale, 0.0, estimator, "convex")
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK, outcome.message
    return game, state, outcome


@pytest.mark.parametrize("name,estimator,partition,geometry", [
    ("coupled-quadratic", "exact", "players", "euclidean"), ("tanh-coupled", "interval", "coordinates", "euclidean"),
    pytest.param("entropic-matrix", "interval", "players", "entropic", marks=pytest.mark.slow)])
def test_verify_accepts_honest_and_rejects_any_overclaim(name, estimator, partition, geometry):
    game, state, outcome = certified_outcome(name, estimator, partition, geometry)
    assert game.verify(state, outcome) is None
    a = outcome.artifacts
    up, down = (lambda v: math.nextafter(v, math.inf)), (lambda v: math.nextafter(v, -math.inf))
    forgeries = {
        "margin": dict(a, margin=up(a["margin"])),
        "rate": dict(a, rate=up(a["rate"])),
        "lipschitz": dict(a, lipschitz=down(a["lipschitz"])),
        "euler factor": dict(a, euler=dict(a["euler"], factor=down(a["euler"]["factor"]))),
        "euler max step": dict(a, euler=dict(a["euler"], max_step=2 * a["euler"]["step"] * (1 + 1e-9))),
        "basin": dict(a, basin=up(a["basin"])),
        "mu": dict(a, constants=dict(a["constants"], mu=[up(v) for v in a["constants"]["mu"]])),
        "L": dict(a, constants=dict(a["constants"], L=[[down(v) for v in row] for row in a["constants"]["L"]])),
        "gain": dict(a, gain=down(a["gain"])),
        "sampled": dict(a, constants=dict(a["constants"], method="sampled")),
        "not certified": dict(a, certified=False),
    }
    if a["rk4"] is not None:
        forgeries["rk4 factor"] = dict(a, rk4=dict(a["rk4"], factor=down(a["rk4"]["factor"])))
        forgeries["rk4 basin"] = dict(a, rk4_basin=up(a["rk4_basin"]) * 1.5)
    if a["band"] is not None:
        forgeries["band"] = dict(a, band=[down(a["band"][0]), a["band"][1]])
    if estimator == "interval":  # every check recomputes the enclosure (about a second): a representative few
        forgeries = {k: forgeries[k] for k in ("margin", "basin", "sampled", "not certified")}
    for what, forged in forgeries.items():
        assert game.verify(state, Outcome.ok(outcome.value, forged)) is not None, what
    assert game.verify(state, Outcome.ok(up(outcome.value), a)) is not None


@pytest.mark.parametrize("name,estimator", [("coupled-quadratic", "exact"), ("cyclic-quadratic", "exact"),
                                            pytest.param("tanh-coupled", "interval", marks=pytest.mark.slow)])
def test_every_certified_formulation_verifies(name, estimator):
    game = SmallGainNashGame(name, bo_budget=8)
    checked = 0
    for partition in game.partitions["euclidean"]:
        for radius in game.radii:
            for offset in (0.0, 0.5):
                state = ("euclidean", partition, radius, offset, estimator, "convex")
                outcome = game.evaluate(state, EvalContext())
                if outcome.status is Status.OK:
                    assert game.verify(state, outcome) is None, state
                    checked += 1
    assert checked >= 5


def test_forged_constants_fail_verify():
    """The referee's forgery: couplings 0 and curvature 5 make margin 5 from the stored numbers alone."""
    game, state, outcome = certified_outcome("coupled-quadratic", "exact")
    a = outcome.artifacts
    n = len(a["blocks"])
    forged = dict(a, margin=5.0, rate=5.0, constants=dict(a["constants"], mu=[5.0] * n, L=np.diag([5.0] * n).tolist()))
    assert "curvatures" in game.verify(state, Outcome.ok(5.0, forged))
    assert recheck(EXAMPLES["coupled-quadratic"].build(), forged) is not None


def test_estimates_are_not_ok_outcomes():
    game = SmallGainNashGame("tanh-coupled", bo_budget=8)
    outcome = game.evaluate(("euclidean", "coordinates", 0.25, 0.0, "sampled-512", "convex"), EvalContext())
    assert outcome.status is Status.INFEASIBLE and outcome.message.startswith("estimated, not certified")
    assert outcome.artifacts["status"] == "estimated" and outcome.artifacts["certified"] is False
    assert outcome.artifacts["margin"] > 0  # the numbers are kept, under their label


# -- found by review: each of these was certified (and accepted by recheck) before its fix --------------
E0 = torch.tensor([1.0, 0.0], dtype=torch.float64)


def scalar_times_vector(blocks):
    """Player y's loss multiplies a scalar (tanh of y0) by a vector: a dip of curvature for y0 > 0.2."""
    y = blocks[0]
    s = 0.75 * (1 + torch.tanh(50 * (y[0] - 0.2)))
    return 0.5 * (y @ y) - 0.5 * (s * y ** 2) @ E0


def test_a_scalar_times_a_vector_pairs_boxes_with_boxes():
    from games.small_gain_nash.enclosure import Jet

    lo = np.array([[-1.0, 0.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    jet = Jet.variables(lo, lo)  # two point boxes, 4 variables
    value = (torch.tanh(jet[0]) * jet[2:]).sum()
    expected = [float((torch.tanh(torch.tensor(p[0])) * torch.tensor(p[2:])).sum()) for p in lo]
    for b, e in enumerate(expected):
        assert value.v.lo[b] <= e <= value.v.hi[b]
    game = DifferentiableGame([scalar_times_vector, lambda b: 0.5 * b[1][0] ** 2], [Reals(2), Reals(1)],
                              equilibrium=np.zeros(3))
    cert = certify(game, 1.0)
    assert not cert.certified and cert.constants.mu[0] < 0  # a second equilibrium sits at y0 = 0.1746


@pytest.mark.parametrize("loss", [
    lambda b: torch.add(0.5 * b[0][0] ** 2, b[0][0] ** 2, alpha=-1.0) + 0.1 * b[0][0] * b[1][0],  # -x^2/2
    lambda b: -0.5 * torch.div(b[0][0] ** 2, 1.0, rounding_mode="floor") + 0.1 * b[0][0] * b[1][0],
])
def test_keywords_and_in_place_variants_are_never_dropped(loss):
    game = DifferentiableGame([loss, lambda b: 0.5 * b[1][0] ** 2], [Reals(1), Reals(1)], equilibrium=np.zeros(2))
    cert = certify(game, 1.0)
    assert not cert.certified


def test_in_place_variants_are_refused():
    from games.small_gain_nash.enclosure import Jet, NotEnclosable

    x = Jet.variables(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(NotEnclosable, match="add_"):
        torch.zeros(()).add_(x[0])
    with pytest.raises(NotEnclosable, match="exp_"):
        torch.exp_(x[0])


def test_inner_is_not_taken_for_matmul():
    C = torch.tensor([[0.0, 3.0], [0.0, 0.0]], dtype=torch.float64)
    game = DifferentiableGame([lambda b: 0.5 * b[0] @ b[0] + 0.5 * b[0][1] * b[1][0],
                               lambda b: 0.5 * b[1] @ b[1] + torch.inner(b[0], C) @ b[1]],
                              [Reals(2), Reals(2)], equilibrium=np.zeros(4))
    assert not certify(game, 1.0, partition="coordinates").certified  # the true Jacobian has eigenvalue -0.22


def test_only_quadratic_game_declares_a_jacobian():
    with pytest.raises(TypeError):
        DifferentiableGame([lambda b: 0.5 * b[0][0] ** 2], [Reals(1)], jacobian=np.eye(1))
    with pytest.raises(ValueError, match="not exactly symmetric"):
        quadratic_game(np.array([[1.0, 0.5 + 1e-12], [0.5, 1.0]]), dims=(2,))


def test_recheck_refuses_an_rk4_step_at_a_boundary_equilibrium():
    from games.small_gain_nash import Box

    game = quadratic_game(np.array([[1.0, 0.5], [0.2, 1.0]]), q=np.array([-2.0, 0.0]),
                          sets=(Box(1, -1.0, 1.0), Box(1, -1.0, 1.0)))
    cert = certify(game, 1.0)
    assert cert.certified and cert.rk4 is None  # the equilibrium (1, -0.2) is on the boundary
    claim = cert.to_dict()
    rule = rk4_rule(cert.margin, cert.lipschitz)
    claim["rk4"] = {"step": rule.step, "factor": rule.factor, "max_step": rule.max_step}
    assert "not proven interior" in recheck(game, claim)


def test_every_ratio_inside_the_timescale_band_certifies_exactly():
    from games.small_gain_nash.rational import positive_definite
    from games.small_gain_nash.weights import timescale_band

    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(2000):
        mu, (l12, l21) = rng.uniform(0.1, 3, 2), rng.uniform(0.01, 3, 2)
        if l12 * l21 >= mu[0] * mu[1]:
            continue
        lo, hi = timescale_band(mu, np.array([[0.0, l12], [l21, 0.0]]))
        for r in (np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf)):  # one ulp inside each end
            m1, m2, a, b, w = (fraction(float(v)) for v in (*mu, l12, l21, r))
            off = -(a + w * b) / 2
            assert positive_definite([[m1, off], [off, w * m2]]), (mu, l12, l21, r)
            checked += 1
    assert checked > 1000


def test_printed_bounds_round_the_safe_way():
    cert = certify(quadratic_game(np.array([[1.0, 0.3], [0.4, 1.0]]), dims=(1, 1)), 1.0)
    text = cert.summary()
    margin = float(text.split("margin ")[1].split(" ")[0])
    factor = float(text.split("factor ")[1].split(",")[0])
    assert cert.certified and margin <= cert.margin and factor >= cert.euler.factor


def test_a_stored_equilibrium_outside_its_players_set_is_refused():
    """||P(y) - z|| <= ||y - z|| holds only for z in the set: a forged artifact whose equilibrium is
    the unconstrained root (2, -0.2), outside player 1's unit ball, once passed the recheck with a
    residual of ~1e-18, though projected Euler moves it by (-1, 0). dist(z, set) now enters it."""
    import copy

    from games.small_gain_nash import Ball, Box, DifferentiableGame, Region, certify
    from games.small_gain_nash.verify import recheck

    game = DifferentiableGame([lambda b: ((b[0] - 2.0) ** 2).sum() / 2,
                               lambda b: (b[1] ** 2).sum() / 2 + 0.1 * (b[0] * b[1]).sum()], [Ball(1, 1.0), Box(1)])
    honest = certify(game, Region((2.0, 0.0), 1.5), constants="interval").to_dict()
    assert recheck(game, honest) is None
    forged = copy.deepcopy(honest)
    forged["equilibrium"], forged["basin"] = [2.0, -0.2], 0.003
    assert recheck(game, forged) is not None
