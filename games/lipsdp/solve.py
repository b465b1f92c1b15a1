"""Solving one segment's LipSDP in cvxpy, monolithic or chordally decomposed, then verifying it.

Chordal decomposition: M's sparsity is block tridiagonal, a chordal pattern whose maximal cliques
(found by networkx on the graph of blocks) are consecutive pairs of blocks. By Agler's theorem a
matrix with a chordal pattern is negative semidefinite iff it is a sum of negative semidefinite
matrices each supported on one clique; so M <= 0 becomes one small LMI per clique, with each shared
diagonal block split between its cliques by free symmetric matrices. The optimum is unchanged; the
largest PSD cone shrinks from the whole network to two consecutive layers.

The problem is built once per (segment, structure, decomposition), with the strictness margin a
cvxpy parameter, and re-solved when a solve does not verify: first at a 100x tighter tolerance, then
with an interior-point solver if its PSD blocks are small enough for one.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import cvxpy as cp
import networkx as nx
import numpy as np

from discover.decimals import decimal_up
from games.lipsdp.formulation import Segment, blocks, multipliers
from games.lipsdp.verify import Verified, certified_bound

SOLVERS = tuple(s for s in ("SCS", "CLARABEL", "MOSEK") if s in cp.installed_solvers())


INTERIOR_POINT_LIMIT = 200  # largest PSD block handed to an interior-point fallback (their cost grows like n^6)


def solver_options(solver: str, tolerance: float, time_limit: float | None = None) -> dict:
    if solver == "SCS":
        return {"eps_abs": tolerance, "eps_rel": tolerance, "max_iters": 20_000,
                **({"time_limit_secs": time_limit} if time_limit else {})}
    if solver == "CLARABEL":
        return {"tol_gap_abs": tolerance, "tol_gap_rel": tolerance, "tol_feas": tolerance,
                **({"time_limit": time_limit} if time_limit else {})}
    if solver == "MOSEK":
        return {"mosek_params": {"MSK_DPAR_INTPNT_CO_TOL_REL_GAP": tolerance,
                                 **({"MSK_DPAR_OPTIMIZER_MAX_TIME": time_limit} if time_limit else {})}}
    raise ValueError(f"unknown solver {solver!r}; installed: {', '.join(SOLVERS)}")


@dataclass
class SegmentSolve:
    """One segment's outcome: the verified bound (or why none), what the solver claimed, and the work."""

    segment: Segment
    verified: Verified
    claimed: float | None
    thetas: list[np.ndarray]
    attempts: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    solve_seconds: float = 0.0


class SegmentProblem:
    """The cvxpy problem of one segment, built once and solved as often as needed."""

    def __init__(self, segment: Segment, structure: str = "neuron", chordal: bool = False,
                 strictness: float = 1e-5) -> None:
        start = time.perf_counter()
        self.segment = segment
        self.mults = [multipliers(c, structure) for c in segment.channels]
        self.thetas = [cp.Variable(m.size) for m in self.mults]
        self.rho = cp.Variable(nonneg=True)
        constraints = [t[:m.signed] >= 0 for t, m in zip(self.thetas, self.mults) if m.signed]
        coeffs = [(t @ m.Ka.T if m.Ka.any() else None, t @ m.Kb.T, t @ m.Kc.T) for t, m in zip(self.thetas, self.mults)]
        maps = segment.maps
        parts = blocks(len(maps), coeffs, cp.diag, lambda h, a: maps[h].T @ cp.diag(a) @ maps[h],
                       lambda h, b: maps[h].T @ cp.diag(b) / 2, lambda: segment.out.T @ segment.out)
        sizes = segment.sizes
        parts[(0, 0)] = parts[(0, 0)] - self.rho * np.eye(sizes[0])
        # The hidden block must come out negative definite, not just semidefinite, for the Schur
        # verification; the solver is asked for a margin of ``strictness`` there (at the optimum of
        # e.g. orthogonal MaxMin networks the block is exactly singular).
        self.strictness = cp.Parameter(nonneg=True, value=strictness)
        for h in range(1, len(sizes)):
            parts[(h, h)] = parts[(h, h)] + self.strictness * np.eye(sizes[h])
        if chordal and len(sizes) > 2:
            constraints += self._chordal(parts, sizes)
        else:
            full = cp.bmat([[self._block(parts, i, j, sizes) for j in range(len(sizes))] for i in range(len(sizes))])
            constraints.append((full + full.T) / 2 << 0)
        self.problem = cp.Problem(cp.Minimize(self.rho), constraints)
        self.build_seconds = time.perf_counter() - start

    @staticmethod
    def _block(parts: dict, i: int, j: int, sizes: tuple[int, ...]):
        if (i, j) in parts:
            return parts[(i, j)]
        if (j, i) in parts:
            return parts[(j, i)].T
        return np.zeros((sizes[i], sizes[j]))

    def _chordal(self, parts: dict, sizes: tuple[int, ...]) -> list:
        graph = nx.Graph()
        graph.add_nodes_from(range(len(sizes)))
        graph.add_edges_from((i, j) for (i, j) in parts if i != j)
        cliques = sorted(sorted(c) for c in nx.chordal_graph_cliques(graph))
        owner = {}
        for (i, j) in parts:
            if i != j:
                owner[(i, j)] = next(k for k, c in enumerate(cliques) if i in c and j in c)
        shares: dict[tuple[int, int], object] = {}
        for b in range(len(sizes)):
            holders = [k for k, c in enumerate(cliques) if b in c]
            free = [cp.Variable((sizes[b], sizes[b]), symmetric=True) for _ in holders[1:]]
            shares[(holders[0], b)] = self._block(parts, b, b, sizes) - sum(free) if free else self._block(parts, b, b, sizes)
            for k, var in zip(holders[1:], free):
                shares[(k, b)] = var
        constraints = []
        for k, clique in enumerate(cliques):
            rows = []
            for i in clique:
                row = []
                for j in clique:
                    if i == j:
                        row.append(shares[(k, i)])
                    elif owner.get((min(i, j), max(i, j))) == k:
                        row.append(self._block(parts, i, j, sizes))
                    else:
                        row.append(np.zeros((sizes[i], sizes[j])))
                rows.append(row)
            local = cp.bmat(rows)
            constraints.append((local + local.T) / 2 << 0)
        return constraints

    def solve(self, solver: str, tolerance: float, strictness: float | None = None,
              time_limit: float | None = None) -> tuple[float | None, list[np.ndarray], str]:
        self.strictness.value = 10 * tolerance if strictness is None else strictness  # above what the solver may violate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.problem.solve(solver=solver, **solver_options(solver, tolerance, time_limit))
            except cp.error.SolverError as error:
                return None, [], f"{solver} failed: {error}"
        status = self.problem.status
        if self.rho.value is None or any(t.value is None for t in self.thetas):
            return None, [], f"{solver} returned no solution ({status})"
        claimed = float(np.sqrt(max(self.rho.value, 0.0))) * self.segment.scale
        return claimed, [np.asarray(t.value) for t in self.thetas], status


def solve_segment(segment: Segment, structure: str = "neuron", chordal: bool = False, solver: str = "SCS",
                  tolerance: float = 1e-6, fallback: bool = True, strictness: float | None = None,
                  time_limit: float | None = None) -> SegmentSolve:
    """Solve, verify, and on failure tighten the tolerance and then switch to an interior-point solver.

    ``strictness``: the margin asked of the hidden block (default ten times the tolerance).
    ``time_limit``: seconds per solver call; a solver stopped by it still returns its iterate, which
    is verified like any other (the bound is then looser, never wrong).
    """
    problem = SegmentProblem(segment, structure, chordal)
    plan = [(solver, tolerance)]
    if fallback:
        if solver == "SCS":
            plan.append(("SCS", tolerance / 100))
        largest = max(a + b for a, b in zip(segment.sizes[:-1], segment.sizes[1:])) if chordal else sum(segment.sizes)
        if largest <= INTERIOR_POINT_LIMIT:
            plan += [(s, 1e-8) for s in ("CLARABEL", "MOSEK") if s in SOLVERS and s != solver]
    attempts, claimed, thetas = [], None, []
    verified = Verified(None, "not solved")
    start = time.perf_counter()
    for name, tol in plan:
        claimed, thetas, status = problem.solve(name, tol, strictness, time_limit)
        if not thetas:
            attempts.append(status)
            continue
        verified = certified_bound(segment, thetas, problem.mults)
        attempts.append(f"{name} tol {tol:g}: {status}, claimed {claimed:.6g}, "
                        + (f"verified {decimal_up(verified.bound)}" if verified.bound is not None else verified.reason))
        if verified.bound is not None:
            break
    return SegmentSolve(segment, verified, claimed, thetas, attempts, problem.build_seconds,
                        time.perf_counter() - start)
