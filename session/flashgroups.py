"""Flash-group strategies: which symbols light up together, flash after flash.

A strategy gives the :class:`~neurospell.session.engine.SpellerEngine` its next flashes
(``next_repetition()``, a tuple of groups in flash order). A group is either

* an ``int``: a fixed group of the layout (:attr:`~neurospell.types.SpellerLayout.flash_groups`,
  stimulus code = index + 1), as the row/column paradigm flashes; or
* a :class:`SymbolGroup`: the symbols (their indices in the layout) lit by this one flash,
  for groups that are not fixed in advance. Its members travel with the flash marker
  (``flash:0:members=3.9.15``, see :mod:`neurospell.markers`).

The strategies (``[speller] flash_strategy``, :func:`make_flash_strategy`):

``"row-column"`` (:class:`RowColumnFlashes`, the default)
    Every row and column once per repetition, in a seeded random order.
``"checkerboard"`` (:class:`CheckerboardFlashes`, Townsend et al. 2010)
    The grid's cells are split like a checkerboard's squares; each colour's symbols are
    shuffled (per sequence, seeded) into a virtual matrix whose rows and then columns
    flash. Two cells sharing an edge have different colours, so no group holds grid
    neighbours, and the order is drawn so that no symbol flashes in two consecutive
    flashes (across sequences too). Each symbol flashes twice per sequence.
``"adaptive"`` (:class:`AdaptiveFlashes`)
    Each next group is chosen from the current posterior (LM prior and the evidence so
    far): the most probable symbols, added while the group's probability mass stays at
    most one half (the first always), at most a row's worth of symbols, no two grid
    neighbours and none of the previous flash's symbols. A confident prior puts the
    favourite alone in every other flash, so a clear P300 can decide in a few flashes;
    with a flat posterior the groups are row-sized random sets. (BciPy's N-best agent
    shows the N most probable symbols; this splits the probability mass instead.)
"""

from __future__ import annotations

import math

import numpy as np

from neurospell.check import NeurospellError, check_option
from neurospell.types import SpellerLayout

__all__ = [
    "FLASH_STRATEGIES",
    "SymbolGroup",
    "RowColumnFlashes",
    "CheckerboardFlashes",
    "AdaptiveFlashes",
    "make_flash_strategy",
    "default_min_flashes",
    "STRATEGY_MIN_FLASHES",
    "group_members",
    "group_holds",
]

#: The strategies ``[speller] flash_strategy`` accepts.
FLASH_STRATEGIES = ("row-column", "checkerboard", "adaptive")

#: Flashes before the stopping rule may fire with checkerboard or adaptive groups when
#: ``[speller] min_flashes`` is unset (chosen on the validation phrases of
#: ``benchmarks/bench_strategies.py``, S1-S3 with the LM: checkerboard 93.5 / 95.0 / 95.0 /
#: 99.0 % at 1 / 2 / 4 / 8, adaptive 98.8 / 99.5 / 99.0 / 99.8 % at 3.7 / 4.2 / 5.6 / 8.9
#: flashes per character: the fewest flashes at >= 95 % for both).
STRATEGY_MIN_FLASHES = 2


def default_min_flashes(strategy: str, min_flashes: int | None, min_repetitions: int, n_groups: int) -> int:
    """The flashes before the stopping rule may fire: ``min_flashes`` when set, else
    ``min_repetitions`` repetitions of rows and columns, or :data:`STRATEGY_MIN_FLASHES`
    with the other strategies (the one home of this rule)."""
    if min_flashes is not None:
        return int(min_flashes)
    return int(min_repetitions) * int(n_groups) if strategy == "row-column" else STRATEGY_MIN_FLASHES


class SymbolGroup(tuple):
    """A flash group given by its members: symbol indices of the layout, sorted, unique.

    A tuple (hashable, comparable), so the engine and the drivers can pass it wherever a
    fixed group index goes; :func:`group_members` reads either.
    """

    def __new__(cls, members):
        idx = sorted({int(i) for i in members})
        if not idx or idx[0] < 0:
            raise NeurospellError(
                f"SymbolGroup: members must be one or more symbol indices >= 0, got {members!r}.")
        return super().__new__(cls, idx)

    def __repr__(self):
        return f"SymbolGroup({list(self)})"


def group_members(layout: SpellerLayout, group) -> tuple[int, ...]:
    """The symbol indices a flash lights: a :class:`SymbolGroup`'s members, or the layout's group."""
    if isinstance(group, tuple):
        if group and group[-1] >= len(layout.symbols):
            raise NeurospellError(
                f"flash group members must be symbol indices in [0, {len(layout.symbols) - 1}], "
                f"got {list(group)}.")
        return tuple(group)
    g = int(group)
    if not 0 <= g < layout.n_groups:
        raise NeurospellError(f"flash group index must be in [0, {layout.n_groups - 1}], got {group!r}.")
    return tuple(layout.flash_groups[g])


def group_holds(layout: SpellerLayout, group, symbol: str) -> bool:
    """Whether the flash ``group`` (index or :class:`SymbolGroup`) lights ``symbol``."""
    return layout.symbols.index(symbol) in group_members(layout, group)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _neighbours(layout: SpellerLayout) -> list[set[int]]:
    """Each symbol's grid neighbours sharing an edge (symbol ``i`` sits at ``divmod(i, n_cols)``)."""
    n, c = len(layout.symbols), layout.n_cols
    out = [set() for _ in range(n)]
    for i in range(n):
        r, k = divmod(i, c)
        for j in (i - c, i + c) + ((i - 1,) if k > 0 else ()) + ((i + 1,) if k < c - 1 else ()):
            if 0 <= j < n:
                out[i].add(j)
    return out


class RowColumnFlashes:
    """Each repetition flashes every group of the layout once, in a seeded random order.

    Parameters
    ----------
    n_groups : int
    rng : numpy.random.Generator | int | None
    """

    def __init__(self, n_groups: int, rng=None):
        self.n_groups = int(n_groups)
        self.rng = _rng(rng)

    def next_repetition(self) -> tuple[int, ...]:
        """The group indices of the next repetition, in flash order."""
        return tuple(int(g) for g in self.rng.permutation(self.n_groups))


class CheckerboardFlashes:
    """The checkerboard paradigm (Townsend et al. 2010), re-drawn per sequence.

    Parameters
    ----------
    layout : SpellerLayout
        Symbol ``i`` sits at row ``i // n_cols``, column ``i % n_cols``.
    rng : numpy.random.Generator | int | None

    Notes
    -----
    Each colour's ``m`` symbols fill a virtual matrix of ``round(sqrt(m))`` rows in a random
    order; its rows flash (both colours' rows shuffled together, they are disjoint), then
    its columns. A sequence flashes every symbol twice; for the 6 x 6 grid it has 18
    flashes of 3 to 6 symbols (row/column: 12 of 6).
    """

    def __init__(self, layout: SpellerLayout, rng=None):
        self.layout = layout
        self.rng = _rng(rng)
        n = len(layout.symbols)
        colour = [sum(divmod(i, layout.n_cols)) % 2 for i in range(n)]
        self._colours = [[i for i in range(n) if colour[i] == k] for k in (0, 1)]
        self._colours = [c for c in self._colours if c]
        self._last: set[int] = set()

    def _virtual(self, members: list[int]) -> tuple[list[SymbolGroup], list[SymbolGroup]]:
        m = len(members)
        nr = max(1, int(round(math.sqrt(m))))
        nc = -(-m // nr)
        perm = [members[i] for i in self.rng.permutation(m)]
        rows = [SymbolGroup(perm[r * nc:(r + 1) * nc]) for r in range(nr) if perm[r * nc:(r + 1) * nc]]
        cols = [SymbolGroup(perm[k::nc]) for k in range(nc) if perm[k::nc]]
        return rows, cols

    def next_repetition(self) -> tuple[SymbolGroup, ...]:
        """The groups of the next sequence, in flash order (rows, then columns)."""
        rows, cols = [], []
        for members in self._colours:
            r, c = self._virtual(members)
            rows += r
            cols += c
        for _ in range(1000):
            order_r = [rows[i] for i in self.rng.permutation(len(rows))]
            order_c = [cols[i] for i in self.rng.permutation(len(cols))]
            if not (self._last & set(order_r[0])) and not (set(order_r[-1]) & set(order_c[0])):
                break
        seq = tuple(order_r + order_c)
        self._last = set(seq[-1])
        return seq


class AdaptiveFlashes:
    """Each next flash chosen from the current posterior: split the probability mass.

    Parameters
    ----------
    layout : SpellerLayout
    rng : numpy.random.Generator | int | None
        Breaks ties between equally probable symbols.
    max_size : int | None
        Most symbols in one group (default: the layout's largest group, a row).
    mass : float
        Probability mass a group may reach (after its first symbol).
    block : int
        Flashes planned from one posterior (1: each flash from the latest posterior; a live
        display may want a few planned ahead).
    avoid_neighbours : bool
        Never put two grid neighbours (sharing an edge) in one group.

    Notes
    -----
    :attr:`uses_posterior` tells the engine to pass its fused posterior to
    :meth:`next_repetition`. No symbol of one flash is in the next one.
    """

    uses_posterior = True

    def __init__(self, layout: SpellerLayout, rng=None, *, max_size: int | None = None,
                 mass: float = 0.5, block: int = 1, avoid_neighbours: bool = True):
        self.layout = layout
        self.rng = _rng(rng)
        self.max_size = max(len(g) for g in layout.flash_groups) if max_size is None else int(max_size)
        if self.max_size < 1:
            raise NeurospellError(f"AdaptiveFlashes: max_size must be >= 1, got {max_size!r}.")
        if not 0.0 < float(mass) <= 1.0:
            raise NeurospellError(f"AdaptiveFlashes: mass must be in (0, 1], got {mass!r}.")
        self.mass = float(mass)
        self.block = int(block)
        if self.block < 1:
            raise NeurospellError(f"AdaptiveFlashes: block must be >= 1, got {block!r}.")
        self._nb = _neighbours(layout) if avoid_neighbours else [set() for _ in layout.symbols]
        self._last: set[int] = set()

    def _group(self, p: np.ndarray) -> SymbolGroup:
        order = np.lexsort((self.rng.random(len(p)), -p))
        group: list[int] = []
        banned = set(self._last)
        total = 0.0
        for s in order.tolist():
            if s in banned:
                continue
            if group and total + p[s] > self.mass:
                continue
            group.append(s)
            total += p[s]
            banned |= self._nb[s]
            if len(group) >= self.max_size:
                break
        if not group:  # everything banned (a tiny layout): any symbol not just flashed
            group = [int(order[0])]
        self._last = set(group)
        return SymbolGroup(group)

    def next_repetition(self, posterior=None) -> tuple[SymbolGroup, ...]:
        """The next ``block`` groups, planned from ``posterior`` (a CharDistribution; ``None``: uniform)."""
        n = len(self.layout.symbols)
        p = np.full(n, 1.0 / n) if posterior is None else np.exp(np.asarray(posterior.logp, float))
        return tuple(self._group(p) for _ in range(self.block))


def make_flash_strategy(name: str, layout: SpellerLayout, rng=None):
    """The strategy named by ``[speller] flash_strategy`` for ``layout``.

    Parameters
    ----------
    name : ``"row-column"`` | ``"checkerboard"`` | ``"adaptive"``
    layout : SpellerLayout
    rng : numpy.random.Generator | int | None
    """
    check_option("[speller] flash_strategy", name, FLASH_STRATEGIES)
    if name == "row-column":
        return RowColumnFlashes(layout.n_groups, rng)
    if name == "checkerboard":
        return CheckerboardFlashes(layout, rng)
    return AdaptiveFlashes(layout, rng)
