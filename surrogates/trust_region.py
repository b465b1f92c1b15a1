"""TuRBO's trust region for the continuous moves of the incumbent's branch.

A global GP fitted on a few dozen points is confident nowhere, and expected improvement over a whole
box keeps paying for exploration long after the basin of the best point is known: on the published
constrained problems (Gramacy, pressure vessel, tension spring) flat BO's medians stayed 0.01-29%
above the optimum after 60 evaluations. TuRBO [TuRBO] confines the acquisition to a box around the
incumbent whose side grows after successes and shrinks after failures, so the search turns local as
evidence says the basin is found.

A local search stalls in a local basin (Gramacy's feasible set has two parts; the box shrank around
the worse one, 0.75, for 30 evaluations before its restart). TuRBO restarts from a fresh design with
its data thrown away; here the data are kept, so a restart instead hands the search back to the
global acquisition (no box) until an evaluation improves on the best again, and the box then starts
at its initial side around the new incumbent. The box's floor is 0.5^4 (TuRBO's 0.5^7 spends 28
failures shrinking before a restart in 2-d, half a budget of 60; below 1/16 of a move's range the
L-BFGS-B polish finds the basin's top anyway).

TuRBO learns that a box is spent only by failing in it until it collapses: from the initial side 4
halvings of max(4, d) failures, 16 evaluations in 2-d (Gramacy, seed 0: evaluations 13-29 refined a
local optimum, 0.7522 to 0.7502, before the restart found the global basin at once). Giving the box up
as soon as the models say it is spent was tried and is not done: with "the box's best chance of a
counted success, P(y > best + 1e-3 |best|) P(feasible), times the evaluations it has left is below
one" (3 seeds, budget 60, one campaign at a time), Gramacy seed 0 went from 0.7502 to 0.6024 after 30
evaluations, Func2C seed 0 from -0.1953 to -0.2050 after 60, but the tension spring's seed 0 went
from 0.0134 to 0.0151: its thin feasible set makes P(feasible) small in every box, and the global
search after the restart found nothing better. Giving it up only when a global search sees a better
chance still lost on the spring (median final 0.01331 against 0.0128; seed 2 stuck at 0.01303 from
evaluation 28, the global proposals infeasible) while Gramacy gained (median final 0.59989 against
0.6000): far from the data a GP's uncertainty inflates every chance.

Here the box applies to one branch only: the completions below a node that make the same discrete
choices as the best completion observed through that node (CASMOPOLITAN's idea of a local region for
the continuous part of a mixed space, with the tree standing for its categorical trust region). Other
branches are searched globally, so the tree still compares branches; the moves of the incumbent's
branch are searched within ``length / 2`` of its values, in the unit coordinates of each move.
Ordinal moves (finite numbers) are nudged like continuous ones by the estimator, but here they count
as discrete choices: a completion with another plate thickness is another branch, searched
globally. Boxing them too (TuRBO's treatment of integers) was measured worse on the pressure vessel,
whose thicknesses come in 99 steps: GP-MCTS ended at a median cost of 6420 after 60 evaluations
(6420, 6802, 6103 per seed) against 6120 (6086, 6120, 6126) with the box on the radius and length
only (optimum 6059.7).
Boxing the continuous moves of *every* branch around the incumbent's (CASMOPOLITAN's continuous
trust region with the discrete choices left free) was measured worse too: a fifth of the vessel's
evaluations after the design are infeasible with R or L on a box bound, most of them in other
branches (other plate thicknesses), but with that box the median cost was 7258 after 30
evaluations and 6428 after 60 (seeds 0-2: 7258, 6495, 7296 and 6428, 6430, 6128) against 6799 and
6120 without. SCBO's Thompson sampling [SCBO] inside the box (when the acquisition's best
candidate lies in the incumbent's branch, one joint posterior sample of the value and of every
constraint over the branch's candidates; the best sampled value among the sample-feasible ones)
was not better either (seeds 0-2, 60 evaluations;
evaluations to flat BO's final median / median best after 30 and 60): pressure vessel 43 / 6799 /
6101 against 42 / 6799 / 6120, tension spring 39 / 0.01587 / 0.01306 against 44 / 0.0166 / 0.0128,
and on Gramacy every seed stayed in the worse basin (0.7501) through evaluation 30, against 0.6008.
A smaller first side (0.4 instead of TuRBO's 0.8, here and after a restart) turns local sooner, and
lost on all four problems it could move (seeds 0-2, 60 evaluations, one default for all; evaluations
to flat BO's median final, against 0.8): tension spring 46 (46, 37, 47) against 44, pressure vessel
46 (49, 46, 43) against 42, Gramacy and Func2C never in 2 of 3 seeds (Gramacy's median final
0.599968; Func2C's seeds 1 and 2 ended on worse branches, at 0.031 and -0.132 against -0.1608). On the
spring no evaluation was feasible before the 17th, 9th and 17th: the box cannot act before then.
Those infeasible evaluations after the design count as failures of a box that has no centre yet
(seeds 0 and 2 begin their local search at side 0.2). Not counting them, as TuRBO counts only in a
box around an incumbent, was measured worse on the spring (seeds 0-2, 60 evaluations; best after 30
and 60): 0.0315, 0.0392, 0.0178 and 0.01474, 0.01278, 0.01352, against 0.0166 (median) and
0.01342, 0.01275, 0.01313: in its thin feasible set the small first box is what helps.

[SCBO]  Eriksson & Poloczek, "Scalable constrained Bayesian optimization", AISTATS 2021.

[TuRBO] Eriksson, Pearce, Gardner, Turner, Poloczek, "Scalable global optimization via local
        Bayesian optimization", NeurIPS 2019 (side 0.8 at first, at most 1.6; doubled after 3
        successes in a row, halved after max(4, d) failures; improvement by 1e-3 |best| counts).
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL_LENGTH = 0.8
MIN_LENGTH = 0.5**4
MAX_LENGTH = 1.6
SUCCESS_TOLERANCE = 3


@dataclass
class TrustRegion:
    """The side of the box and the counters that move it; ``observe`` every evaluation in order."""

    length: float = INITIAL_LENGTH
    successes: int = 0
    failures: int = 0
    best: float | None = None  # the best value seen (maximised)
    restarts: int = 0
    searching_globally: bool = False  # after a restart, until the next improvement: no box

    def observe(self, value: float | None, dims: int, counted: bool = True) -> None:
        """One evaluation's value (None: failed or infeasible) in a branch of ``dims`` continuous moves.
        ``counted=False`` (the initial design) only tracks the best value."""
        improved = value is not None and (self.best is None or value > self.best + 1e-3 * abs(self.best))
        if value is not None and (self.best is None or value > self.best):
            self.best = value
        if not counted:
            return
        if self.searching_globally:
            self.searching_globally = not improved
            return
        if improved:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= SUCCESS_TOLERANCE:
            self.length, self.successes = min(2 * self.length, MAX_LENGTH), 0
        elif self.failures >= max(4, dims):
            self.length, self.failures = self.length / 2, 0
        if self.length < MIN_LENGTH:  # converged or stuck in a local basin: search globally again
            self.length, self.restarts, self.searching_globally = INITIAL_LENGTH, self.restarts + 1, True

    @property
    def active(self) -> bool:
        return not self.searching_globally

    def bounds(self, center: float) -> tuple[float, float]:
        """The box's extent along one move whose incumbent value is ``center`` (unit coordinates)."""
        half = self.length / 2
        return max(0.0, center - half), min(1.0, center + half)
