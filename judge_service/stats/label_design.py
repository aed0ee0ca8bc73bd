"""Which pairs the label queue asks people about: the sampling design of the calibration.

Any probabilities q > 0 keep the calibrated estimate unbiased (stats/calibrated.py); they
only change its width. The width is smallest when q_i follows the expected size of the
judge's error on pair i, sqrt(E[(Y - f)^2]) (Zrnic and Candes, "Active Statistical
Inference", ICML 2024). That size is unknown, so pairs are grouped by what predicts it, how
certain the judges were, and each group's size is estimated from the labels people have
already given, shrunk toward a prior so the first draws are sensible. A floor keeps every
pair's probability positive.
"""

from enum import StrEnum

import numpy as np

from judge_service.stats.preference import INCONSISTENT, LOSS, TIE, WIN


class Strategy(StrEnum):
    ACTIVE = "active"  # favour pairs whose judge outcome is least certain
    UNIFORM = "uniform"  # every pair alike: simple random sampling


# Kinds of pair, by how sure the judges were.
CERTAIN = 0  # every judge consistent across orders, unanimous and decisive
AXES_SPLIT = 1  # as CERTAIN overall, but some rubric axis went the other way
UNCERTAIN = 2  # a tie, an order-inconsistent judge, or judges disagreeing
KINDS = 3
# Prior error sizes (|Y - f|): a half-credit outcome is 0.5 from any decisive label; a
# decisive one is wrong now and then. Worth PRIOR_LABELS labels of evidence per kind.
PRIOR_ERROR = np.array([0.3, 0.4, 0.5])
PRIOR_LABELS = 2.0
FLOOR = 0.05  # no kind's error size is taken below this, so no pair is left out


def pair_kinds(per_judge: np.ndarray, panel: np.ndarray, axes: np.ndarray | None) -> np.ndarray:
    """Each pair's kind from its outcomes: per judge (judges, pairs), panel, and per axis.

    `axes` is the panel's outcome per rubric axis (axes, pairs), or None without axes.
    """
    undecided = (panel == TIE) | (panel == INCONSISTENT)
    if per_judge.size:
        undecided |= (per_judge == INCONSISTENT).any(axis=0)
        undecided |= (per_judge != per_judge[:1]).any(axis=0)
    kinds = np.where(undecided, UNCERTAIN, CERTAIN).astype(np.int8)
    if axes is not None and axes.size:
        against = ((panel == WIN) & (axes == LOSS).any(axis=0)) | (
            (panel == LOSS) & (axes == WIN).any(axis=0)
        )
        wavering = (axes == INCONSISTENT).any(axis=0)
        kinds[(kinds == CERTAIN) & (against | wavering)] = AXES_SPLIT
    return kinds


def error_sizes(kinds: np.ndarray, labelled: np.ndarray, squared_error: np.ndarray) -> np.ndarray:
    """Each kind's estimated sqrt(E[(Y - f)^2]) from labelled pairs, shrunk toward the prior.

    `labelled` are pair indices with a label, `squared_error` their (Y - f)^2.
    """
    kind = kinds[labelled]
    sums = np.bincount(kind, weights=squared_error, minlength=KINDS)
    counts = np.bincount(kind, minlength=KINDS)
    mean_square = (PRIOR_ERROR**2 * PRIOR_LABELS + sums) / (PRIOR_LABELS + counts)
    return np.maximum(np.sqrt(mean_square), FLOOR)


def probabilities(kinds: np.ndarray, strategy: Strategy, sizes: np.ndarray) -> np.ndarray:
    """Each pair's chance on one draw (they sum to 1)."""
    if strategy is Strategy.UNIFORM:
        return np.full(kinds.size, 1.0 / kinds.size)
    weight = sizes[kinds]
    chances: np.ndarray = weight / weight.sum()
    return chances
