"""LipSDP at the edges: no "verified" bound below the truth, no forged or lowered claim accepted."""

import math

import flint
import numpy as np
import pytest
import torch
from flint import arb, fmpq, fmpq_mat
from torch import nn

from discover.types import EvalContext, Outcome, Status
from discover.decimals import decimal_up
from games.lipsdp import (
    LipSDPGame,
    lipschitz_bound,
    load_network,
    lower_bound,
    naive_bound,
    random_network,
)
from games.lipsdp.formulation import helmert_enclosure, multipliers, segments
from games.lipsdp.network import ACTIVATION_NAMES, Network
from games.lipsdp.rigorous import positive_definite, spectral_norm_up
from games.lipsdp.solve import solve_segment
from games.lipsdp.verify import project


def q(x: float) -> fmpq:
    return fmpq(*float(x).as_integer_ratio())  # a float is an exact rational


def rational(A: np.ndarray) -> fmpq_mat:
    return fmpq_mat(A.shape[0], A.shape[1], [q(x) for x in A.ravel()])


def exactly_positive_definite(A: fmpq_mat) -> bool:
    """Sylvester's criterion in rational arithmetic."""
    n = A.nrows()
    return all(fmpq_mat(k, k, [A[i, j] for i in range(k) for j in range(k)]).det() > 0 for k in range(1, n + 1))


def probe(slope: float, inputs: int) -> nn.Sequential:
    """The referee's probe: a 1e-13 direction behind a LeakyReLU of slope ``slope``; Lip = 1e-13 slope."""
    model = nn.Sequential(nn.Linear(inputs, 2), nn.LeakyReLU(slope), nn.Linear(2, 1)).double()
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[0, 0], model[0].weight[1, 1] = 1.0, 1e-13
        model[0].bias.zero_()
        model[2].weight.copy_(torch.tensor([[0.0, 1.0]]))
        model[2].bias.zero_()
    return model


@pytest.mark.parametrize("inputs", [2, 3])  # 3 inputs: the first map is wide, so the row-space reduction runs
@pytest.mark.parametrize("slope", [1e6, 1e8, 1e10])
def test_a_tiny_direction_behind_a_large_slope_is_not_lost(slope, inputs):
    model = probe(slope, inputs)
    x = torch.zeros(1, inputs, dtype=torch.float64)
    x[0, 1] = -1.0  # the LeakyReLU's steep side
    gradient = torch.linalg.matrix_norm(torch.func.jacrev(model)(x).reshape(1, inputs), ord=2).item()
    assert gradient == pytest.approx(1e-13 * slope, rel=1e-12)
    result = lipschitz_bound(model, lower=False)
    assert result.bound >= gradient
    assert result.bound <= result.naive


def test_no_certified_bound_is_looser_than_the_naive_product():
    orthogonal = Network(tuple(np.linalg.qr(np.random.default_rng(k).standard_normal((8, 8)))[0] for k in range(3)),
                         tuple(np.zeros(8) for _ in range(3)), (ACTIVATION_NAMES["maxmin"],) * 2)
    # as a residual ReLU network, LipSDP cannot prove 1, the naive product can
    residual = lipschitz_bound(orthogonal, solver="CLARABEL", tolerance=1e-8, encoding="residual-relu", lower=False)
    assert residual.lipsdp > residual.naive and residual.bound == residual.naive and residual.method == "naive"
    assert "naive product" in residual.summary()
    for seed in range(3):
        loose = lipschitz_bound(random_network([6, 10, 10, 2], "tanh", seed=seed), tolerance=1e-2, fallback=False,
                                lower=False)
        assert loose.bound <= loose.naive
        assert loose.method == ("lipsdp" if loose.lipsdp is not None and loose.lipsdp <= loose.naive else "naive")


def test_the_naive_bound_is_proven():
    rng = np.random.default_rng(0)
    for scale in (1e-6, 1.0, 1e4):
        W = rng.standard_normal((5, 4)) * scale
        sigma = spectral_norm_up(W)
        assert sigma <= np.linalg.norm(W, 2) * (1 + 1e-8)
        exact = rational(W)
        shifted = fmpq_mat(4, 4, [q(sigma) ** 2 if i == j else 0 for i in range(4) for j in range(4)]) - \
            exact.transpose() * exact
        assert exactly_positive_definite(shifted)  # sigma^2 I - W^T W > 0: sigma > ||W||_2 exactly


def test_the_sampled_lower_bound_is_not_rounding_noise():
    """Deep sigmoid net with slopes ~1e-17: output differences over a small step are rounding noise, and
    a pair ratio of them once came out above the (rigorous) naive upper bound."""
    scales = [25.7, 90.2, 2.7, 6.3e-06, 3.1e-4, 6.1e-05, 3.3e-06]
    rng = np.random.default_rng(17)
    widths = [3, 4, 2, 3, 3, 3, 3, 2]
    weights = tuple(rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k]) * scales[k]
                    for k in range(len(widths) - 1))
    biases = tuple(0.1 * rng.standard_normal(w) * s for w, s in zip(widths[1:], scales))
    network = Network(weights, biases, (ACTIVATION_NAMES["sigmoid"],) * 6)
    assert lower_bound(network, samples=1024, steps=300, scale=1 / scales[0], seed=17) <= naive_bound(network)


def test_printed_bounds_are_rounded_up():
    for x in (1.0000000000040044, 2.0000049, 0.1, 3.15e-13, 123456789.0):
        assert float(decimal_up(x)) >= x and float(decimal_up(x)) <= x * (1 + 1e-5)
    result = lipschitz_bound(random_network([4, 6, 2], seed=0), lower=False)
    assert f"Lipschitz <= {decimal_up(result.bound)} (" in result.summary()


def test_positive_definiteness_is_never_claimed_for_a_matrix_that_is_not():
    rng = np.random.default_rng(1)
    claimed = 0
    for trial in range(200):
        n = int(rng.integers(2, 7))
        B = rng.standard_normal((n, n))
        A = B @ B.T
        A = (A + A.T) / 2
        A -= (np.linalg.eigvalsh(A)[0] + float(rng.choice([-1e-13, -1e-15, 0.0, 1e-15, 1e-13, 1e-9]))) * np.eye(n)
        if positive_definite(A, 0.0, 1e-14 * float(np.abs(A).max()) + 1e-300):
            claimed += 1
            assert exactly_positive_definite(rational(A)), f"trial {trial}: a matrix that is not positive definite"
    assert claimed, "no matrix was proven positive definite: the test exercises nothing"


@pytest.fixture
def precise():
    saved, flint.ctx.prec = flint.ctx.prec, 200
    yield
    flint.ctx.prec = saved


def test_helmert_enclosure_holds(precise):
    for g in (2, 3, 4, 7):
        H, rad = helmert_enclosure(g)
        for i in range(g):
            for j in range(g):
                exact = (arb(1) / arb(g).sqrt() if i == 0 else arb(1) / arb(i * (i + 1)).sqrt() if j < i
                         else -arb(i) / arb(i * (i + 1)).sqrt() if j == i else arb(0))
                assert abs(arb(float(H[i, j])) - exact) <= arb(float(rad[i, j])) or H[i, j] == rad[i, j] == 0


def test_a_verified_segment_bound_holds_in_rational_arithmetic():
    """The certificate -(M - rho E) > 0 that the float verification proves, re-checked exactly."""
    network = random_network([4, 5, 5, 2], "relu", seed=3)
    segment = segments(network)[0]
    solved = solve_segment(segment, "neuron", solver="CLARABEL", tolerance=1e-8)
    rho = solved.verified.rho
    assert rho is not None and solved.verified.bound >= math.sqrt(rho) * segment.scale

    mults = [multipliers(c, "neuron") for c in segment.channels]
    thetas = [project(t, m) for t, m in zip(solved.thetas, mults)]
    sizes = segment.sizes
    offsets = np.cumsum((0, *sizes))
    n = int(offsets[-1])
    M = [[fmpq(0)] * n for _ in range(n)]
    for h, (theta, mult) in enumerate(zip(thetas, mults)):
        T = segment.maps[h]
        b = [sum((q(mult.Kb[i, k]) * q(theta[k]) for k in range(mult.size)), fmpq(0)) for i in range(T.shape[0])]
        c = [sum((q(mult.Kc[i, k]) * q(theta[k]) for k in range(mult.size)), fmpq(0)) for i in range(T.shape[0])]
        assert not mult.Ka.any()  # ReLU: slopes in [0, 1]
        for i in range(T.shape[0]):
            M[offsets[h + 1] + i][offsets[h + 1] + i] += c[i]
            for j in range(T.shape[1]):
                M[offsets[h] + j][offsets[h + 1] + i] += q(T[i, j]) * b[i] / 2
                M[offsets[h + 1] + i][offsets[h] + j] += q(T[i, j]) * b[i] / 2
    out = segment.out
    last = offsets[len(segment.maps)]
    for i in range(out.shape[1]):
        for j in range(out.shape[1]):
            M[last + i][last + j] += sum((q(out[k, i]) * q(out[k, j]) for k in range(out.shape[0])), fmpq(0))
    A = fmpq_mat(n, n, [(q(rho) if i == j and i < sizes[0] else 0) - M[i][j] for i in range(n) for j in range(n)])
    assert all(fmpq_mat(k, k, [A[i, j] for i in range(k) for j in range(k)]).det() > 0 for k in range(1, n + 1))


@pytest.fixture(scope="module")
def game_and_outcome(tmp_path_factory):
    network = random_network([6, 10, 10, 3], "relu", seed=4)
    path = tmp_path_factory.mktemp("lipsdp") / "net.npz"
    np.savez(path, W0=network.weights[0], b0=network.biases[0], W1=network.weights[1], b1=network.biases[1],
             W2=network.weights[2], b2=network.biases[2], activations=np.array(["relu", "relu"]))
    game = LipSDPGame(str(path))
    state = (False, "neuron", "monolithic", "CLARABEL", 1e-8)
    outcome = game.evaluate(state, EvalContext())
    assert outcome.status is Status.OK and outcome.artifacts["method"] == "lipsdp"
    assert game.verify(state, outcome) is None
    return game, state, outcome


@pytest.mark.parametrize("lower", ["ulp", "1e-12", "1e-9"])
def test_verify_refuses_any_lowered_bound(game_and_outcome, lower):
    game, state, outcome = game_and_outcome
    bound = -outcome.value
    lowered = float(np.nextafter(bound, 0)) if lower == "ulp" else bound * (1 - float(lower))
    summary = outcome.artifacts["summary"].replace(decimal_up(bound), decimal_up(lowered), 1)
    forged = Outcome.ok(-lowered, dict(outcome.artifacts, bound=lowered, lipsdp=lowered, summary=summary))
    assert "below the recomputed" in game.verify(state, forged)
    summary = outcome.artifacts["summary"].replace(decimal_up(bound), decimal_up(bound * 2), 1)
    raised = Outcome.ok(-bound * 2, dict(outcome.artifacts, bound=bound * 2, lipsdp=bound * 2, summary=summary))
    assert game.verify(state, raised) is None  # a weaker claim is still true


@pytest.mark.parametrize("field", ["bound", "segment bound", "method", "lipsdp", "naive", "formulation", "layers",
                                   "summary"])
def test_verify_refuses_forged_artifact_fields(game_and_outcome, field):
    game, state, outcome = game_and_outcome
    art = dict(outcome.artifacts)
    segment = dict(art["segments"][0])
    if field == "bound":
        art["bound"] = art["bound"] * 0.5
    elif field == "segment bound":
        segment["bound"] = segment["bound"] * (1 - 1e-12)
    elif field == "layers":
        segment["layers"] = [0, 1]
    elif field == "method":
        art["method"] = "naive"
    elif field == "lipsdp":
        art["lipsdp"] = art["lipsdp"] * (1 - 1e-12)
    elif field == "naive":
        art["naive"] = art["naive"] * 0.5
    elif field == "summary":
        art["summary"] = art["summary"].replace("Lipschitz <= ", "Lipschitz <= 0.5 * ")
    else:
        art["formulation"] = dict(art["formulation"], structure="layer")
    art["segments"] = [segment, *art["segments"][1:]]
    assert game.verify(state, Outcome.ok(outcome.value, art)) is not None


class FiveTimesReLU(nn.ReLU):
    def forward(self, x):
        return 5 * super().forward(x)


def hooked() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].register_forward_hook(lambda module, inputs, output: 5 * output)
    return model


def patched_forward() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[1].forward = lambda x: 5 * torch.relu(x)  # same class, no hook
    return model


def slightly_patched_forward() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))  # float32: within the sampled check's tolerance
    model[2].forward = lambda x: nn.functional.linear(x, 1.0005 * model[2].weight, model[2].bias)
    return model


@pytest.mark.parametrize("build,match", [
    (lambda: nn.Sequential(nn.Linear(3, 4), FiveTimesReLU(), nn.Linear(4, 2)), "FiveTimesReLU is a subclass of ReLU"),
    (hooked, "layer 0 \\(Linear\\) has forward hooks"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)), "Dropout in training mode"),
    (patched_forward, "layer 1 \\(ReLU\\) has its own forward set on the instance"),
    (slightly_patched_forward, "layer 2 \\(Linear\\) has its own forward set on the instance"),
])
def test_modules_that_compute_something_else_are_refused(build, match):
    with pytest.raises(ValueError, match=match) as error:
        lipschitz_bound(build(), lower=False)
    assert "\n" not in str(error.value)


def test_dropout_in_eval_mode_is_read_as_the_identity():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2)).eval()
    assert load_network(model).widths == (3, 4, 2)
    assert naive_bound(load_network(model)) > 0


def test_float32_weights_are_certified_in_float64():
    # f(x) = w2 relu(w1 x) with positive weights: its Lipschitz constant is exactly sum w1_i w2_i. Proofs
    # run on float32 arrays used float32 arithmetic under float64 error bounds and came out below it.
    rng = np.random.default_rng(2)
    w1, w2 = rng.uniform(0.1, 1, (40, 1)).astype(np.float32), rng.uniform(0.1, 1, (1, 40)).astype(np.float32)
    exact = sum(fmpq(*float(a).as_integer_ratio()) * fmpq(*float(b).as_integer_ratio()) for a, b in zip(w1[:, 0], w2[0]))
    net = Network((w1, w2), (np.zeros(40, np.float32), np.zeros(1, np.float32)), (ACTIVATION_NAMES["relu"],))
    assert all(W.dtype == np.float64 for W in (*net.weights, *net.biases))
    result = lipschitz_bound(net, lower=False, tolerance=1e-8)
    assert result.method == "lipsdp" and q(result.bound) >= exact and q(naive_bound(net)) >= exact


def test_activation_parameters_are_certified_as_the_kernel_uses_them():
    # float32 LeakyReLU(1.1) multiplies by float32(1.1) = 1.10000002384..., above the Python float 1.1
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.LeakyReLU(1.1), nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
        model[2].weight.fill_(1.0)
        slope = abs(float(model(torch.tensor([[1.0]])) - model(torch.tensor([[0.0]]))))
    assert slope > 1.1
    result = lipschitz_bound(model, lower=False)
    assert result.verified and result.bound >= slope and result.lipsdp >= slope


@pytest.mark.parametrize("array,match", [
    (np.array([[2 ** 60 + 1]], dtype=np.int64), "beyond 2\\^53"),
    (np.array([[1 + np.longdouble(2) ** -60]], dtype=np.longdouble), "cannot hold exactly"),
    (np.array([[1 + 1j]]), "not a real number type"),
])
def test_weights_float64_cannot_hold_exactly_are_refused(array, match):
    if array.dtype == np.longdouble and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(ValueError, match=match):
        Network((array, np.ones((1, 1))), (np.zeros(1), np.zeros(1)), (ACTIVATION_NAMES["relu"],))


def test_verify_refuses_missing_multipliers(game_and_outcome):
    game, state, outcome = game_and_outcome
    segment = dict(outcome.artifacts["segments"][0])
    segment["multipliers"] = segment["multipliers"][:-1]
    art = dict(outcome.artifacts, segments=[segment, *outcome.artifacts["segments"][1:]])
    assert "do not fit" in game.verify(state, Outcome.ok(outcome.value, art))
