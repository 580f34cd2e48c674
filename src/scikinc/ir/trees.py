"""IR ops of the tree-ensemble converters (the classifier heads are in ir/heads.py).

Tree ensembles are built in two steps:

1. A converter produces one strategy-free :class:`TreeEnsemble`: the trees
   (numbers), where each tree adds its leaf vector, the base score, divisor,
   comparison mode, categorical inputs, the class output if any, and the
   ``tree_codegen`` option as a plain field (``"auto"`` or a strategy).
2. :func:`scikinc.passes.lower_trees` (run on every graph) calls
   :func:`lower`: :meth:`TreeEnsemble.choose` picks the strategy (the one
   asked for, or with ``"auto"`` the lowest :meth:`TreeEnsemble.estimated_ns`)
   and the ensemble is replaced by that strategy's op, which lays the trees
   out in numeric tables (numpy arrays, ints, bools).  Each strategy op has
   its own template; ``templates/ops/tree_common.c.j2`` holds what they share
   (input conversion, category codes, accumulator, class output), and the
   templates format every number through the renderer's ``c.*`` formatters:

:class:`TreeIfElse` (``ifelse``)
    nested ``if``/``else`` per tree, thresholds and leaf values as literals
    (fast for small ensembles; split into ``noinline`` chunk functions so that
    big forests still compile in bounded time and memory);
:class:`TreeTable` (``table``)
    one flat array of node records and a traversal loop (compact: compile time
    and code size independent of the forest's shape).  Without categorical
    splits and up to depth ``TABLE_FIXED_MAX_DEPTH`` every tree takes exactly
    ``depth`` steps (a leaf keeps its index, a conditional move): no branch
    on the data, so the trees overlap in the out-of-order core instead of
    each waiting for its mispredicted exit; the records are then 8 bytes
    (float thresholds; 16 for double), the leaves' rows relative to their
    tree's;
:class:`TreeBranchFree` (``branchfree``)
    trees padded to a complete binary tree of depth ``D`` (small ``D``): the
    leaf index is built from ``D`` comparisons without a single branch, then
    one table load (no mispredictions on random inputs);
:class:`TreeBitvector` (``bitvector``)
    every tree keeps a bit mask of its still reachable leaves (numbered
    left to right, at most 64 per tree).  Per input feature, the nodes
    testing it are sorted by threshold; the nodes whose test fails for the
    row (``x > t``: they send it right) are a prefix of that list, and each
    clears the leaves of its left subtree from its tree's mask.  The exit
    leaf of a tree is then the lowest bit still set: every leaf left of it
    was cleared by the node where its path leaves the exit path (that node
    sent the row right), and no node clears the exit leaf.  Applying masks
    commutes, so every ``B`` nodes of a feature's list a checkpoint row
    holds the AND of all masks so far, for every tree: a row counts the
    checkpoints below ``x``, ANDs one row into the masks (vectorised), then
    tests the ``B`` nodes of the next block without a branch.  No
    mispredictions, and work independent of the trees' depth.  The masks are
    a stack array of 1 to 8 bytes per tree (auto keeps it within 32 KiB).

Comparisons mirror the library exactly: sklearn's trees compare the input cast
to float32 against float64 thresholds (``x <= t`` goes left), which for
float32 ``x`` is the same as ``x <= t32`` with ``t32`` the largest float32 not
above ``t``; HistGradientBoosting compares the float64 input against float64
thresholds (when ``FLOAT_T`` is float the input is a float32 already, and the
float32 comparison gives the same decisions).  NaN goes to the side the model
recorded per node.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConversionError
from .core import Op

#: codegen names accepted by the ``tree_codegen`` option
CODEGENS = ("auto", "ifelse", "table", "branchfree", "bitvector")
#: auto: branch-free evaluation up to this depth (padding costs 2**depth) ...
BRANCHFREE_MAX_DEPTH = 10
#: branchfree refused beyond this depth even when asked for
BRANCHFREE_HARD_MAX_DEPTH = 14
#: ... and this many padded leaves in the whole ensemble
BRANCHFREE_MAX_SLOTS = 2 ** 20
#: auto: nested ifs up to this many nodes (~5 s of gcc -O3 per 10k nodes), else a table
IFELSE_MAX_NODES = 16000
#: auto: deeper trees use the table (compilers dislike very deep nesting)
IFELSE_MAX_DEPTH = 64
#: nodes per generated function in the ifelse strategy
IFELSE_CHUNK_NODES = 1000
#: table: a fixed number of steps per tree (the ensemble's depth) up to this depth ...
TABLE_FIXED_MAX_DEPTH = 16
#: ... while the depth is at most this many times the mean leaf depth (leaf-wise
#: trees with one long branch would pay the long branch on every tree)
TABLE_FIXED_MAX_WASTE = 2.0
#: bitvector: leaves per tree (one bit each in a 64-bit mask)
BITVECTOR_MAX_LEAVES = 64
#: bitvector: at least this many nodes per checkpoint block ...
BITVECTOR_MIN_BLOCK = 6
#: ... at least one node per this many bytes of a checkpoint row ...
BITVECTOR_ROW_BYTES_PER_NODE = 40
#: ... and all checkpoint rows together in about this many bytes
BITVECTOR_CHECKPOINT_BYTES = 1024 * 1024
#: auto: bitvector only while the per-call masks (a stack array) fit in this
BITVECTOR_AUTO_MAX_STACK = 32 * 1024


@dataclass
class Tree:
    """One binary tree.  ``left[i] < 0`` marks a leaf; ``value[i]`` is the
    leaf's vector (``width`` numbers, used at leaves only); ``nan_left[i]``
    sends NaN left.  Categorical nodes (HistGradientBoosting) test the
    category index of input slot ``feature[i]`` against ``bitset[i]``
    (8 uint32 words) instead of a threshold."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    nan_left: np.ndarray
    is_cat: np.ndarray | None = None
    bitset: dict = field(default_factory=dict)
    #: number reported for each leaf by the "leaves" output (node id)
    leaf_id: np.ndarray | None = None

    def __post_init__(self):
        self.feature = np.asarray(self.feature, dtype=np.int64)
        self.threshold = np.asarray(self.threshold, dtype=np.float64)
        self.left = np.asarray(self.left, dtype=np.int64)
        self.right = np.asarray(self.right, dtype=np.int64)
        self.value = np.asarray(self.value, dtype=np.float64)
        if self.value.ndim == 1:
            self.value = self.value[:, None]
        self.nan_left = np.asarray(self.nan_left, dtype=bool)
        if self.is_cat is None:
            self.is_cat = np.zeros(len(self.feature), dtype=bool)
        self.is_cat = np.asarray(self.is_cat, dtype=bool)
        if self.leaf_id is None:
            self.leaf_id = np.arange(len(self.feature))

    @property
    def n_nodes(self) -> int:
        return len(self.feature)

    @property
    def n_leaves(self) -> int:
        return int((self.left < 0).sum())

    def leaf_order(self):
        """In-order (left to right) index of every leaf, and for every
        internal node the index of its first leaf and the number of leaves of
        its left subtree.  Explicit stacks: no recursion."""
        n = self.n_nodes
        count = np.zeros(n, np.int64)
        post, stack = [], [0]
        while stack:  # preorder (parents before children); reversed: children first
            i = stack.pop()
            post.append(i)
            if self.left[i] >= 0:
                stack += [int(self.left[i]), int(self.right[i])]
        for i in reversed(post):
            count[i] = 1 if self.left[i] < 0 else count[self.left[i]] + count[self.right[i]]
        first = np.zeros(n, np.int64)
        for i in post:  # preorder: parents before children
            if self.left[i] >= 0:
                first[self.left[i]] = first[i]
                first[self.right[i]] = first[i] + count[self.left[i]]
        n_left = np.where(self.left >= 0, count[np.maximum(self.left, 0)], 0)
        return first, n_left

    def is_leaf(self, i: int) -> bool:
        return self.left[i] < 0

    def depths(self) -> np.ndarray:
        """Depth of every node (explicit stack: no recursion)."""
        d = np.zeros(self.n_nodes, dtype=np.int64)
        stack = [0]
        while stack:
            i = stack.pop()
            if self.left[i] >= 0:
                d[self.left[i]] = d[self.right[i]] = d[i] + 1
                stack += [int(self.left[i]), int(self.right[i])]
        return d

    def max_depth(self) -> int:
        return int(self.depths().max()) if self.n_nodes else 0


def float32_floor(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= t, elementwise (t float64).  For float32 x,
    ``x <= t`` holds exactly when ``x <= float32_floor(t)``."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = t.astype(np.float32)
    above = f.astype(np.float64) > t
    f[above] = np.nextafter(f[above], np.float32(-np.inf))
    return f


class TreeEnsemble(Op):
    """``out[j] = (base[j] + sum over trees t with offset o_t of leaf_t[j - o_t]) / divisor``.

    Every tree adds its leaf vector (``width`` numbers) at offset
    ``offsets[t]`` of a double accumulator, in tree order (the order of the
    library's own summation, so double results match bit for bit).
    ``compare`` is the precision of the comparisons: ``"float32"`` (the input
    is cast to float and compared with the largest float32 not above each
    threshold: sklearn's trees, and HistGradientBoosting when ``FLOAT_T`` is
    float) or ``"float64"`` (HistGradientBoosting otherwise).
    ``categorical`` lists, for each categorical input slot, ``(input column,
    sorted category values)``: the slot holds the category's index, -1 for
    unknown values and NaN.  ``leaf_ids``: one output per tree, the id of the
    leaf reached.  ``final``: None, or the class index computed from the
    double accumulator: ``("argmax",)`` first maximum, ``("threshold",
    inclusive)`` ``acc[0] >(=) 0``.  ``codegen`` is the strategy asked for
    (``tree_codegen``); nothing is chosen here and the op has no template:
    :func:`lower` replaces it by a strategy op.
    """

    def __init__(self, trees, *, n_features, n_out, offsets, base=None, divisor=None,
                 compare="float32", categorical=(), codegen="auto", leaf_ids=False, final=None):
        if codegen not in CODEGENS:
            raise ConversionError(f"tree_codegen must be one of {', '.join(CODEGENS)}; got {codegen!r}")
        if compare not in ("float32", "float64"):
            raise ConversionError(f"TreeEnsemble: compare must be 'float32' or 'float64', got {compare!r}")
        self.trees = list(trees)
        self.n_features = int(n_features)
        self.n_out = int(n_out)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if leaf_ids:  # one output per tree: the id of the leaf reached
            self.width = 1
        else:
            self.width = int(self.trees[0].value.shape[1])
        self.leaf_ids = bool(leaf_ids)
        self.final = final
        self.base = np.zeros(self.n_out) if base is None else np.asarray(base, np.float64).reshape(-1)
        self.divisor = None if divisor is None else float(divisor)
        self.compare = compare
        self.categorical = [(int(col), np.asarray(cats, np.float64)) for col, cats in categorical]
        self.codegen = codegen
        self.has_cat = any(t.is_cat.any() for t in self.trees)
        self.n_nodes = sum(t.n_nodes for t in self.trees)
        self.depth = max(t.max_depth() for t in self.trees)
        self.max_leaves = max(t.n_leaves for t in self.trees)
        self.any_nan_left = any(bool((t.nan_left & (t.left >= 0) & ~t.is_cat).any()) for t in self.trees)

    # -- strategy ------------------------------------------------------------
    def choose(self) -> str:
        """The strategy for ``codegen``: the one asked for (ConversionError
        when it cannot handle this ensemble), or with ``"auto"`` the lowest
        :meth:`estimated_ns` (``table`` when none is feasible)."""
        codegen = self.codegen
        if codegen == "branchfree" and self.has_cat:
            raise ConversionError("tree_codegen='branchfree' does not support categorical splits; "
                                  "use 'ifelse' or 'table'")
        if codegen == "branchfree" and self.depth > BRANCHFREE_HARD_MAX_DEPTH:
            raise ConversionError(f"tree_codegen='branchfree' pads every tree to 2**depth leaves; depth "
                                  f"{self.depth} > {BRANCHFREE_HARD_MAX_DEPTH} is too deep: use 'table' or 'auto'")
        if codegen == "bitvector" and self.max_leaves > BITVECTOR_MAX_LEAVES:
            raise ConversionError(f"tree_codegen='bitvector' keeps one bit per leaf in a 64-bit mask: trees with "
                                  f"up to {BITVECTOR_MAX_LEAVES} leaves only, this ensemble has a tree with "
                                  f"{self.max_leaves}; use 'branchfree', 'table' or 'auto'")
        if codegen == "branchfree" and self.depth == 0:
            return "ifelse"
        if codegen != "auto":
            return codegen
        costs = self.estimated_ns()
        return min(costs, key=lambda k: costs[k])

    def estimated_ns(self) -> dict[str, float]:
        """Rough single-row latency (ns) of each strategy auto may pick for
        this ensemble, fitted on timings of GBDT, RF and HistGB models of 1 to
        1000 trees (2.5 GHz Zen 3, gcc 12 -O3) and of the boosting benchmark's
        XGBoost/LightGBM/CatBoost models (auto only compares them).  ``table``
        is always feasible."""
        nt = len(self.trees)
        path = sum(float(t.depths()[t.left < 0].mean()) for t in self.trees)  # mean leaf depths, summed
        # table: fixed steps (every tree walks the ensemble's depth, no branch on
        # the data; 1.5-2.3 ns a step while its 8-byte records stay in L2, ~5 ns
        # beyond) or, categorical / deep leaf-wise trees, a loop to the leaf
        # (about one mispredicted exit per tree)
        fixed = (not self.has_cat and self.depth <= TABLE_FIXED_MAX_DEPTH
                 and self.depth <= TABLE_FIXED_MAX_WASTE * max(path / max(nt, 1), 1.0))
        step = 2.0 if self.n_nodes * 8 <= 1024 * 1024 else 5.0
        est = {"table": 20 + (nt * self.depth * step if fixed else path * (step + 1.5) + nt * 15)}
        if self.max_leaves <= BITVECTOR_MAX_LEAVES and nt * self.mask_bits() // 8 <= BITVECTOR_AUTO_MAX_STACK:
            # per tree: exit leaf and sum; per record tested; per 32 bytes of
            # checkpoint row; per input slot (counts, loop set-up)
            B, feats = self.bitvector_layout()
            row = nt * self.mask_bits() / 8
            scan = sum(B if nb else n for n, nb in feats.values())
            vec = sum(row / 32 for n, nb in feats.values() if nb)
            n_cat = sum(int((t.is_cat & (t.left >= 0)).sum()) for t in self.trees)
            est["bitvector"] = 10 + 0.8 * nt + 1.2 * scan + 1.3 * vec + 3 * len(feats) + 2 * n_cat
        if (not self.has_cat and 1 <= self.depth <= BRANCHFREE_MAX_DEPTH
                and nt * 2 ** self.depth <= BRANCHFREE_MAX_SLOTS):
            D = self.depth  # every level of every tree, tables growing with 2**D
            est["branchfree"] = 15 + nt * D * (0.8 + D / 6) * (1.7 if self.any_nan_left else 1.0)
        if self.n_nodes <= IFELSE_MAX_NODES and self.depth <= IFELSE_MAX_DEPTH:
            # about one mispredicted branch per level, worse as the code grows
            est["ifelse"] = path * (1.5 + self.n_nodes / 1000)
        return est

    def mask_bits(self) -> int:
        """bitvector: the leaf mask width, the smallest of 8/16/32/64 bits
        holding the largest tree."""
        return next(b for b in (8, 16, 32, 64) if self.max_leaves <= b)

    def bitvector_layout(self):
        """bitvector: nodes per checkpoint block ``B`` and, per numeric input
        slot, ``(number of nodes testing it, number of checkpoints)`` (see
        :class:`TreeBitvector`).

        Every row tests ``B`` nodes per input slot, and ANDs one checkpoint
        row of ``n_trees`` masks: ``B`` grows with that row (one node per
        ``BITVECTOR_ROW_BYTES_PER_NODE`` bytes; measured best for 100 to
        1000 trees) and so that all checkpoint rows together stay within
        ``BITVECTOR_CHECKPOINT_BYTES`` (cache and C source size).  A slot
        gets checkpoints only where they save work over testing all its
        nodes."""
        row = len(self.trees) * self.mask_bits() // 8
        counts: dict[int, int] = {}
        for t in self.trees:
            for f in t.feature[(t.left >= 0) & ~t.is_cat]:
                counts[int(f)] = counts.get(int(f), 0) + 1
        n_num = sum(counts.values())
        B = int(max(BITVECTOR_MIN_BLOCK, -(-row // BITVECTOR_ROW_BYTES_PER_NODE),
                    -(-n_num * row // BITVECTOR_CHECKPOINT_BYTES)))
        return B, {f: (n, (n - 1) // B if n > B + row // BITVECTOR_ROW_BYTES_PER_NODE else 0)
                   for f, n in sorted(counts.items())}

    def period(self) -> int:
        """K when tree t adds one number at offset t % K (boosting: trees
        m-major, class-minor): the templates then keep K register
        accumulators.  0 otherwise."""
        K = self.n_out
        n = len(self.trees)
        if self.leaf_ids or self.width != 1 or K > 16 or n % K:
            return 0
        if not np.array_equal(self.offsets, np.arange(n) % K):
            return 0
        return K

    # -- numbers the strategies share -----------------------------------------
    def cmp_values(self, t: Tree) -> np.ndarray:
        """The thresholds of ``t`` as compared: float32 (the largest float32
        not above each threshold) or float64."""
        return float32_floor(t.threshold) if self.compare == "float32" else t.threshold.copy()

    def leaf_rows(self, tree: Tree, i: int) -> np.ndarray:
        if self.leaf_ids:
            if tree.leaf_id is None:  # pragma: no cover - set by Tree.__post_init__
                raise ConversionError("tree without leaf ids")
            return np.array([float(tree.leaf_id[i])])
        return tree.value[i]

    def tree_offset(self, k: int) -> int:
        return int(k if self.leaf_ids else self.offsets[k])

    def bitsets(self):
        """Distinct categorical bitsets (8 uint32 words each, concatenated)
        and each categorical node's index among them, by (tree, node)."""
        index: dict[tuple, int] = {}
        words: list[np.ndarray] = []
        of: dict[tuple[int, int], int] = {}
        for k, t in enumerate(self.trees):
            for i in np.nonzero(t.is_cat & (t.left >= 0))[0]:
                b = np.asarray(t.bitset[int(i)], dtype=np.uint32).reshape(8)
                key = tuple(int(v) for v in b)
                if key not in index:
                    index[key] = len(words)
                    words.append(b)
                of[(k, int(i))] = index[key]
        return (np.concatenate(words) if words else np.zeros(8, np.uint32)), of

    def out_width(self, w):
        if list(w) != [self.n_features]:
            raise ConversionError(f"TreeEnsemble: built for {self.n_features} inputs, got widths {list(w)}")
        return 1 if self.final else self.n_out

    def describe(self):
        return f"TreeEnsemble({len(self.trees)} trees, {self.codegen})"


# ---------------------------------------------------------------------------
# Strategy ops: the laid-out tables of one evaluation strategy
# ---------------------------------------------------------------------------


class TreeStrategy(Op):
    """What every strategy op holds (read by ``templates/ops/tree_common.c.j2``).

    ``float_cmp``: comparisons in float (else double); ``base``, ``divisor``
    (None: no division); ``argmax`` / ``sign_class`` (``acc[0] >= 0`` when
    ``inclusive``, else ``> 0``): the class output, else the accumulator is
    the output; ``cat_col/cat_off/cat_n``: per categorical input slot its
    input column and its sorted values ``cat_vals[cat_off:cat_off+cat_n]``;
    ``bitsets``: the categorical splits' 256-bit sets (8 words each);
    ``offsets``: each tree's accumulator offset; ``period``: see
    :meth:`TreeEnsemble.period`.  Tables holding thresholds are float32
    arrays when ``float_cmp``, else float64.  ``ensemble``: the
    :class:`TreeEnsemble` laid out (the templates do not read it)."""

    codegen = ""

    def __init__(self, ens: TreeEnsemble):
        self.n_features = ens.n_features
        self.n_out = ens.n_out
        self.n_trees = len(ens.trees)
        self.width = ens.width
        self.n_nodes, self.depth, self.max_leaves = ens.n_nodes, ens.depth, ens.max_leaves
        self.any_nan_left = ens.any_nan_left
        self.float_cmp = ens.compare == "float32"
        self.base = ens.base.copy()
        self.divisor = ens.divisor
        self.argmax = bool(ens.final) and ens.final[0] == "argmax"
        self.sign_class = bool(ens.final) and ens.final[0] == "threshold"
        self.inclusive = self.sign_class and bool(ens.final[1])
        self.cat_col = np.array([col for col, _ in ens.categorical], np.int64)
        self.cat_n = np.array([len(cats) for _, cats in ens.categorical], np.int64)
        self.cat_off = np.cumsum(np.r_[0, self.cat_n])[:-1].astype(np.int64)
        self.cat_vals = (np.concatenate([cats for _, cats in ens.categorical]) if ens.categorical
                         else np.zeros(1))
        self.has_cat = ens.has_cat
        self.bitsets, self._bitset_of = ens.bitsets()
        self.offsets = np.array([ens.tree_offset(k) for k in range(self.n_trees)], np.int64)
        self.period = ens.period()
        self.label = getattr(ens, "label", "")
        #: the ensemble laid out here (the numpy evaluator, ir/evaluate.py, runs it)
        self.ensemble = ens

    def out_width(self, w):
        if list(w) != [self.n_features]:
            raise ConversionError(f"{self.describe()}: built for {self.n_features} inputs, got widths {list(w)}")
        return 1 if (self.argmax or self.sign_class) else self.n_out

    def describe(self):
        return f"TreeEnsemble({self.n_trees} trees, {self.codegen})"

    def _thr_array(self, values) -> np.ndarray:
        return np.asarray(values, np.float32 if self.float_cmp else np.float64)


class TreeIfElse(TreeStrategy):
    """Nested ifs, one flat event list per chunk of trees (explicit stack:
    no recursion).  ``chunks``: lists of events ``(kind, depth, a, b,
    nan_left)``: ``IF`` (``xf[a] <= thr[b]``), ``IF_CAT`` (the category
    code of slot ``a`` in bitset ``b``), ``ELSE``, ``END``, ``LEAF``
    (``acc[a + j] += vals[b + j]`` for ``j < width``).  A chunk holds whole
    trees, at least ``IFELSE_CHUNK_NODES`` nodes (but the last)."""

    codegen = "ifelse"
    template = "ops/tree_ifelse.c.j2"
    IF, IF_CAT, ELSE, END, LEAF = range(5)

    def __init__(self, ens: TreeEnsemble):
        super().__init__(ens)
        thr: list[float] = []
        vals: list[np.ndarray] = []
        chunks: list[list[tuple]] = []
        cur: list[tuple] = []
        cur_nodes = n_vals = 0
        for k, t in enumerate(ens.trees):
            tv = ens.cmp_values(t)
            stack: list[tuple[int | None, int, int]] = [(None, 0, 0)]
            while stack:
                kind, i, d = stack.pop()
                if kind is not None:  # ELSE / END
                    cur.append((kind, d, 0, 0, False))
                    continue
                if t.left[i] < 0:
                    row = ens.leaf_rows(t, i)
                    cur.append((self.LEAF, d, ens.tree_offset(k), n_vals, False))
                    vals.append(row)
                    n_vals += len(row)
                    continue
                if t.is_cat[i]:
                    cur.append((self.IF_CAT, d, int(t.feature[i]), self._bitset_of[(k, i)], bool(t.nan_left[i])))
                else:
                    cur.append((self.IF, d, int(t.feature[i]), len(thr), bool(t.nan_left[i])))
                    thr.append(tv[i])
                stack += [(self.END, i, d), (None, int(t.right[i]), d + 1), (self.ELSE, i, d),
                          (None, int(t.left[i]), d + 1)]
            cur_nodes += t.n_nodes
            if cur_nodes >= IFELSE_CHUNK_NODES:
                chunks.append(cur)
                cur, cur_nodes = [], 0
        if cur:
            chunks.append(cur)
        self.chunks = chunks
        self.thr = self._thr_array(thr)
        self.vals = np.concatenate(vals).astype(np.float64)


class TreeTable(TreeStrategy):
    """Node records ``(thr[i], slot, child, flags)`` in ``records`` (the
    ints) and ``thr``, with both children of a node adjacent (right = left
    + 1); a leaf has slot -1 and ``child`` = its row in ``vals`` (``width``
    numbers each).  flags: 1 NaN goes left, 2 categorical (``thr`` unused,
    the bitset index in ``bsi``).  ``roots``: each tree's first record."""

    codegen = "table"
    template = "ops/tree_table.c.j2"

    def __init__(self, ens: TreeEnsemble):
        super().__init__(ens)
        recs: list[tuple[int, int, int]] = []
        thr: list[float] = []
        roots: list[int] = []
        leafvals: list[np.ndarray] = []
        bsi: list[int] = []
        for k, t in enumerate(ens.trees):
            tv = ens.cmp_values(t)
            base = len(recs)
            roots.append(base)
            order = [0]  # new position -> old node id, BFS with sibling pairs
            pos = {0: 0}
            head = 0
            while head < len(order):
                i = order[head]
                head += 1
                if t.left[i] >= 0:
                    pos[int(t.left[i])] = len(order)
                    order.append(int(t.left[i]))
                    pos[int(t.right[i])] = len(order)
                    order.append(int(t.right[i]))
            for i in order:
                if t.left[i] < 0:
                    recs.append((-1, len(leafvals), 0))
                    thr.append(0.0)
                    bsi.append(0)
                    leafvals.append(ens.leaf_rows(t, i))
                else:
                    fl = (1 if t.nan_left[i] else 0) | (2 if t.is_cat[i] else 0)
                    recs.append((int(t.feature[i]), base + pos[int(t.left[i])], fl))
                    thr.append(0.0 if t.is_cat[i] else tv[i])
                    bsi.append(self._bitset_of.get((k, i), 0))
        self.records = recs
        self.thr = self._thr_array(thr)
        self.roots = np.array(roots, np.int64)
        self.bsi = np.array(bsi, np.int64)
        self.vals = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in leafvals])
        self._fixed_layout(ens)

    def _fixed_layout(self, ens: TreeEnsemble) -> None:
        """``fixed``: the number of steps every tree takes (0: the loop runs
        to the leaf, categorical splits or too deep), and for it ``packed``
        records ``(slot << 2 | 2 NaN goes left | 1 internal, child, leaf
        row)``: ``child`` the left child's index in its tree; a leaf points
        to itself (``r & 1`` keeps it there: no select that a compiler could
        turn back into a branch), and its row relative to the tree's first
        (``lbase``) is stored in its threshold field (exact in float up to
        2**24); ``wide``: int fields, else unsigned short."""
        self.fixed = 0
        self.packed: list[tuple[int, int, int]] = []
        self.lbase = np.zeros(0, np.int64)
        self.wide = False
        if self.has_cat or self.depth > TABLE_FIXED_MAX_DEPTH or not self.records:
            return
        mean_depth = float(np.mean([float(t.depths()[t.left < 0].mean()) for t in ens.trees]))
        if self.depth > TABLE_FIXED_MAX_WASTE * max(mean_depth, 1.0):
            return
        ends = list(self.roots[1:]) + [len(self.records)]
        lbase = []
        for b, e in zip(self.roots, ends, strict=True):
            first = None
            for k, (f, child, fl) in enumerate(self.records[b:e]):
                if f < 0:
                    first = child if first is None else first
                    self.packed.append((0, k, child - first))
                else:
                    self.packed.append((f << 2 | (fl & 1) << 1 | 1, child - int(b), 0))
            lbase.append(first)
        if max(r for _, _, r in self.packed) >= 2 ** 24:
            self.packed = []
            return
        self.lbase = np.array(lbase, np.int64)
        self.wide = max(max(s for s, _, _ in self.packed), max(c for _, c, _ in self.packed)) >= 65536
        self.fixed = max(self.depth, 1)


class TreeBranchFree(TreeStrategy):
    """Complete trees of depth ``depth`` in heap order (children of i: 2i+1,
    2i+2), all trees concatenated: ``slots``, ``thr``, ``nan_right`` (per
    internal position), ``vals`` (``width`` numbers per leaf position).  A
    leaf above depth D is padded with dummy tests (slot 0, threshold 0)
    whose leaves all repeat its value."""

    codegen = "branchfree"
    template = "ops/tree_branchfree.c.j2"

    def __init__(self, ens: TreeEnsemble):
        super().__init__(ens)
        D = self.depth
        ni, nl = 2 ** D - 1, 2 ** D
        slots, thrs, nright, vals = [], [], [], []
        w = self.width
        for t in ens.trees:
            tv = ens.cmp_values(t)
            s = np.zeros(ni, np.int64)
            th = np.zeros(ni, np.float64)
            nr = np.zeros(ni, np.int64)
            lv = np.zeros((nl, w))
            stack = [(0, 0, 0)]  # (node, heap position, depth)
            while stack:
                i, h, d = stack.pop()
                if t.left[i] < 0:
                    # leaf at depth d covers 2**(D-d) consecutive leaf slots
                    first = h
                    for _ in range(D - d):
                        first = 2 * first + 1
                    first -= ni
                    lv[first:first + 2 ** (D - d)] = ens.leaf_rows(t, i)
                    continue
                s[h] = t.feature[i]
                th[h] = tv[i]
                nr[h] = 0 if t.nan_left[i] else 1
                stack += [(int(t.left[i]), 2 * h + 1, d + 1), (int(t.right[i]), 2 * h + 2, d + 1)]
            slots.append(s)
            thrs.append(th)
            nright.append(nr)
            vals.append(lv.reshape(-1))
        self.slots = np.concatenate(slots)
        self.thr = self._thr_array(np.concatenate(thrs))
        self.nan_right = np.concatenate(nright)
        self.vals = np.concatenate(vals)


class TreeBitvector(TreeStrategy):
    """Tables of the bitvector strategy.

    Leaves are numbered left to right; a node's mask clears the bits of
    the leaves of its left subtree; ``bits`` is the mask width (8, 16, 32
    or 64: the smallest holding the largest tree), ``full`` the all-ones
    mask, ``L`` the leaf rows per tree in ``vals``.

    ``feats``: one dict per numeric input slot with nodes: ``slot``;
    ``off``, ``n``: its nodes are records ``off .. off + n - 1`` of
    ``thr``/``tree``/``mask`` sorted by threshold (ties by tree, node).
    The nodes a row fails (``x > t``) are a prefix of that list.
    Checkpoints (``nb`` of them, maybe none): after record ``j B - 1``
    (``j = 1 .. nb``) ``cp`` row ``cp_off + j`` holds the AND of the
    masks of records ``0 .. j B - 1`` for every tree, ``bth[bth_off + j
    - 1]`` that record's threshold.  A row counts the checkpoints it
    passes (``q``), ANDs row ``cp_off + q`` (row 0 is all ones), then
    tests the ``scan`` records from ``q B`` one by one without branches
    (``B`` records, the last block padded with +inf thresholds; all
    ``n`` when there are no checkpoints).  NaN: ``nan_n`` of the slot's
    nodes send NaN right, listed in ``nanidx[nan_off .. nan_off + nan_n -
    1]``: none (``x > t`` is false for NaN), all (``!(x <= t)`` is true),
    or some (a branch applies the listed records).
    Categorical nodes in tree order: ``cat_slot`` (xc slot),
    ``cat_bitset``, ``cat_tree``, ``cat_mask``, ``cat_nan_left``."""

    codegen = "bitvector"
    template = "ops/tree_bitvector.c.j2"
    #: the passes over the masks are vectorised: one clone per ISA level
    hot = True

    def __init__(self, ens: TreeEnsemble):
        super().__init__(ens)
        bits = ens.mask_bits()
        full = (1 << bits) - 1
        B, layout = ens.bitvector_layout()
        L = self.max_leaves
        W = self.width
        NT = self.n_trees
        per_feat: dict[int, list] = {}
        cats = []
        vals = np.zeros((NT, L, W))
        for k, t in enumerate(ens.trees):
            first, n_left = t.leaf_order()
            tv = ens.cmp_values(t)
            for i in range(t.n_nodes):
                if t.left[i] < 0:
                    vals[k, first[i]] = ens.leaf_rows(t, i)
                    continue
                m = full & ~(((1 << int(n_left[i])) - 1) << int(first[i]))
                if t.is_cat[i]:
                    cats.append((int(t.feature[i]), self._bitset_of[(k, i)], k, m, bool(t.nan_left[i])))
                else:
                    per_feat.setdefault(int(t.feature[i]), []).append(
                        (float(tv[i]), k, i, m, bool(t.nan_left[i])))
        thr: list[float] = []
        tree: list[int] = []
        mask: list[int] = []
        nanidx: list[int] = []
        feats: list[dict[str, int]] = []
        bth: list[float] = []
        cp = [np.full(NT, full, dtype=np.uint64)]  # row 0: no block applied
        for f in sorted(per_feat):
            nodes = sorted(per_feat[f], key=lambda r: (r[0], r[1], r[2]))
            n, nb = layout[f]
            if n != len(nodes):  # internal invariant of _bitvector_layout
                raise ConversionError(f"bitvector layout: {n} nodes counted for input {f}, {len(nodes)} found")
            off = len(thr)
            right = [j for j, r in enumerate(nodes) if not r[4]]
            fe = dict(slot=f, off=off, n=n, nb=nb, scan=B if nb else n, bth_off=len(bth), cp_off=len(cp) - 1,
                      nan_off=len(nanidx), nan_n=len(right))
            cur = np.full(NT, full, dtype=np.uint64)
            for j, (tval, k, _, m, _) in enumerate(nodes):
                thr.append(tval)
                tree.append(k)
                mask.append(m)
                cur[k] &= np.uint64(m)
                if (j + 1) % B == 0 and (j + 1) // B <= nb:
                    cp.append(cur.copy())
                    bth.append(tval)
            # padding up to a whole last block (+inf: never applied, harmless if it were)
            for _ in range((nb + 1) * B - n if nb else 0):
                thr.append(np.inf)
                tree.append(0)
                mask.append(full)
            if 0 < len(right) < n:
                nanidx += [off + j for j in right]
            feats.append(fe)
        self.bits, self.full, self.L, self.B = bits, full, L, B
        self.feats = feats
        self.thr = self._thr_array(thr)
        self.tree = np.array(tree, np.int64)
        self.mask = np.array(mask, np.uint64)
        self.nanidx = np.array(nanidx, np.int64)
        self.bth = self._thr_array(bth)
        self.cp = np.concatenate(cp)
        self.cat_slot = np.array([r[0] for r in cats], np.int64)
        self.cat_bitset = np.array([r[1] for r in cats], np.int64)
        self.cat_tree = np.array([r[2] for r in cats], np.int64)
        self.cat_mask = np.array([r[3] for r in cats], np.uint64)
        self.cat_nan_left = np.array([r[4] for r in cats], bool)
        self.vals = vals.reshape(-1)


#: strategy op of each codegen name
STRATEGIES = {cls.codegen: cls for cls in (TreeIfElse, TreeTable, TreeBranchFree, TreeBitvector)}


def lower(ens: TreeEnsemble) -> TreeStrategy:
    """The strategy op evaluating ``ens`` (see :meth:`TreeEnsemble.choose`);
    the caller wires it in place of ``ens``."""
    return STRATEGIES[ens.choose()](ens)
