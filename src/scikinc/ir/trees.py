"""IR ops of the tree-ensemble and classic-model converters.

:class:`TreeEnsemble` sums the leaf vectors of many binary decision trees into
a double accumulator.  Python only extracts and lays out numbers here; the C
of the four evaluation strategies lives in ``templates/ops/tree_ensemble.c.j2``:

``ifelse``
    nested ``if``/``else`` per tree, thresholds and leaf values as literals
    (fast for small ensembles; split into ``noinline`` chunk functions so that
    big forests still compile in bounded time and memory);
``table``
    one flat array of node records and a traversal loop (compact: compile time
    and code size independent of the forest's shape);
``branchfree``
    trees padded to a complete binary tree of depth ``D`` (small ``D``): the
    leaf index is built from ``D`` comparisons without a single branch, then
    one table load (no mispredictions on random inputs);
``bitvector``
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
thresholds.  NaN goes to the side the model recorded per node.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .core import Op
from ..render import format_doubles, format_floats

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
    ``compare`` is ``"float32"`` (sklearn trees: the input is cast to float32)
    or ``"float64"`` (HistGradientBoosting).  ``categorical`` lists, for each
    categorical input slot, ``(input column, sorted category values)``: the
    slot holds the category's index, -1 for unknown values and NaN.
    """

    template = "ops/tree_ensemble.c.j2"

    def __init__(self, trees, *, n_features, n_out, offsets, base=None, divisor=None,
                 compare="float32", categorical=(), codegen="auto", leaf_ids=False, final=None):
        if codegen not in CODEGENS:
            from ..errors import ConversionError

            raise ConversionError(f"tree_codegen must be one of {', '.join(CODEGENS)}; got {codegen!r}")
        if compare not in ("float32", "float64"):
            raise ValueError(compare)
        self.trees = list(trees)
        self.n_features = int(n_features)
        self.n_out = int(n_out)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if leaf_ids:  # one output per tree: the id of the leaf reached
            self.width = 1
        else:
            self.width = int(self.trees[0].value.shape[1])
        self.leaf_ids = bool(leaf_ids)
        #: None, or the class index computed from the double accumulator:
        #: ("argmax",) first maximum; ("threshold", inclusive) acc[0] >(=) 0
        self.final = final
        self.base = np.zeros(self.n_out) if base is None else np.asarray(base, np.float64).reshape(-1)
        self.divisor = None if divisor is None else float(divisor)
        self.compare = compare
        self.categorical = [(int(col), np.asarray(cats, np.float64)) for col, cats in categorical]
        self.has_cat = any(t.is_cat.any() for t in self.trees)
        self.n_nodes = sum(t.n_nodes for t in self.trees)
        self.depth = max(t.max_depth() for t in self.trees)
        self.max_leaves = max(t.n_leaves for t in self.trees)
        self.any_nan_left = any(bool((t.nan_left & (t.left >= 0) & ~t.is_cat).any()) for t in self.trees)
        self.codegen = self._choose(codegen)
        #: bitvector's passes over the masks are vectorised: one clone per ISA level
        self.hot = self.codegen == "bitvector"
        self._bitsets = self._collect_bitsets()

    # -- strategy ------------------------------------------------------------
    def _choose(self, codegen: str) -> str:
        if codegen == "branchfree" and self.has_cat:
            from ..errors import ConversionError

            raise ConversionError("tree_codegen='branchfree' does not support categorical splits; "
                                  "use 'ifelse' or 'table'")
        if codegen == "branchfree" and self.depth > BRANCHFREE_HARD_MAX_DEPTH:
            from ..errors import ConversionError

            raise ConversionError(f"tree_codegen='branchfree' pads every tree to 2**depth leaves; depth "
                                  f"{self.depth} > {BRANCHFREE_HARD_MAX_DEPTH} is too deep: use 'table' or 'auto'")
        if codegen == "bitvector" and self.max_leaves > BITVECTOR_MAX_LEAVES:
            from ..errors import ConversionError

            raise ConversionError(f"tree_codegen='bitvector' keeps one bit per leaf in a 64-bit mask: trees with "
                                  f"up to {BITVECTOR_MAX_LEAVES} leaves only, this ensemble has a tree with "
                                  f"{self.max_leaves}; use 'branchfree', 'table' or 'auto'")
        if codegen == "branchfree" and self.depth == 0:
            return "ifelse"
        if codegen != "auto":
            return codegen
        costs = self.estimated_ns()
        return min(costs, key=costs.get) if costs else "table"

    def estimated_ns(self) -> dict[str, float]:
        """Rough single-row latency (ns) of each strategy auto may pick for
        this ensemble, fitted on timings of GBDT, RF and HistGB models of 1 to
        1000 trees (2.5 GHz Zen 3, gcc 12 -O3; auto only compares them).
        ``table`` is the fallback when none of these is feasible."""
        nt = len(self.trees)
        est = {}
        if self.max_leaves <= BITVECTOR_MAX_LEAVES and nt * self._mask_bits() // 8 <= BITVECTOR_AUTO_MAX_STACK:
            # per tree: exit leaf and sum; per record tested; per 32 bytes of
            # checkpoint row; per input slot (counts, loop set-up)
            B, feats = self._bitvector_layout()
            row = nt * self._mask_bits() / 8
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
            path = sum(float(t.depths()[t.left < 0].mean()) for t in self.trees)
            est["ifelse"] = path * (1.5 + self.n_nodes / 1000)
        return est

    def out_width(self, w):
        assert w == [self.n_features], (w, self.n_features)
        return 1 if self.final else self.n_out

    def describe(self):
        return f"TreeEnsemble({len(self.trees)} trees, {self.codegen})"

    # -- number formatting helpers for the template ---------------------------
    def float_cmp(self, float_t: str) -> bool:
        """Whether comparisons run in float (else double)."""
        return self.compare == "float32" or float_t == "float"

    def cmp_type(self, float_t: str) -> str:
        return "float" if self.float_cmp(float_t) else "double"

    def thr_strings(self, t, float_t: str) -> list[str]:
        if self.float_cmp(float_t):
            f = float32_floor(t)
            # (non-finite values spelled here: format_floats appends ".0" to them)
            return [x + "f" if np.isfinite(v) else ("NAN" if np.isnan(v) else "INFINITY" if v > 0 else "-INFINITY")
                    for x, v in zip(format_floats(f), f)]
        return format_doubles(np.asarray(t, np.float64))

    @staticmethod
    def dbl(a) -> list[str]:
        return format_doubles(np.asarray(a, np.float64))

    @staticmethod
    def join(strings, per_line: int = 8) -> str:
        s = list(strings)
        if not s:
            return "0"
        return ",\n".join(", ".join(s[i:i + per_line]) for i in range(0, len(s), per_line))

    def leaf_rows(self, tree: Tree, i: int) -> np.ndarray:
        if self.leaf_ids:
            return np.array([float(tree.leaf_id[i])])
        return tree.value[i]

    def tree_offset(self, k: int) -> int:
        return int(k if self.leaf_ids else self.offsets[k])

    def _collect_bitsets(self):
        """Distinct categorical bitsets, and each categorical node's index."""
        index: dict[tuple, int] = {}
        words: list[np.ndarray] = []
        self._bitset_of: dict[tuple[int, int], int] = {}
        for k, t in enumerate(self.trees):
            for i in np.nonzero(t.is_cat & (t.left >= 0))[0]:
                b = np.asarray(t.bitset[int(i)], dtype=np.uint32).reshape(8)
                key = tuple(int(v) for v in b)
                if key not in index:
                    index[key] = len(words)
                    words.append(b)
                self._bitset_of[(k, int(i))] = index[key]
        return np.concatenate(words) if words else np.zeros(8, np.uint32)

    def bitset_words(self) -> np.ndarray:
        return self._bitsets

    def cat_table(self):
        """[(input column, offset into the category values, count)], values."""
        rows, vals, off = [], [], 0
        for col, cats in self.categorical:
            rows.append((col, off, len(cats)))
            vals.append(cats)
            off += len(cats)
        return rows, (np.concatenate(vals) if vals else np.zeros(1))

    # -- ifelse ----------------------------------------------------------------
    def ifelse_chunks(self, float_t: str):
        cache = self.__dict__.setdefault("_chunks", {})
        if float_t not in cache:
            cache[float_t] = self._ifelse_chunks(float_t)
        return cache[float_t]

    def _ifelse_chunks(self, float_t: str):
        """Trees as flat event lists, grouped into chunks of bounded size.

        Events: ``("if", depth, cond)``, ``("else", depth)``, ``("end", depth)``,
        ``("leaf", depth, [(acc index, literal), ...])``; ``cond`` is
        ``(kind, slot, literal_or_bitset_index, nan_left)`` with kind
        ``"num"`` or ``"cat"``.  Built with an explicit stack.
        """
        chunks, cur, cur_nodes = [], [], 0
        for k, t in enumerate(self.trees):
            thr = self.thr_strings(t.threshold, float_t)
            events = []
            stack = [("node", 0, 0)]
            while stack:
                kind, i, d = stack.pop()
                if kind == "else":
                    events.append(("else", d))
                    continue
                if kind == "end":
                    events.append(("end", d))
                    continue
                if t.left[i] < 0:
                    off = self.tree_offset(k)
                    vals = self.dbl(self.leaf_rows(t, i))
                    events.append(("leaf", d, [(off + j, v) for j, v in enumerate(vals)]))
                    continue
                if t.is_cat[i]:
                    cond = ("cat", int(t.feature[i]), self._bitset_of[(k, i)], bool(t.nan_left[i]))
                else:
                    cond = ("num", int(t.feature[i]), thr[i], bool(t.nan_left[i]))
                events.append(("if", d, cond))
                stack += [("end", i, d), ("node", int(t.right[i]), d + 1), ("else", i, d),
                          ("node", int(t.left[i]), d + 1)]
            cur.append(events)
            cur_nodes += t.n_nodes
            if cur_nodes >= IFELSE_CHUNK_NODES:
                chunks.append(cur)
                cur, cur_nodes = [], 0
        if cur:
            chunks.append(cur)
        return chunks

    # -- table -----------------------------------------------------------------
    def table(self, float_t: str):
        """Node records ``(threshold literal, slot, child, flags)`` with both
        children of a node adjacent (right = left + 1); a leaf has slot -1 and
        ``child`` = its row in the leaf-value table.  flags: 1 NaN goes left,
        2 categorical (threshold literal then unused, ``child`` of the bitset
        given in the separate bitset-index list)."""
        recs, roots, leafvals, bits = [], [], [], []
        for k, t in enumerate(self.trees):
            thr = self.thr_strings(t.threshold, float_t)
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
                    recs.append(("0", -1, len(leafvals), 0))
                    bits.append(0)
                    leafvals.append(self.leaf_rows(t, i))
                else:
                    fl = (1 if t.nan_left[i] else 0) | (2 if t.is_cat[i] else 0)
                    lit = "0" if t.is_cat[i] else thr[i]
                    recs.append((lit, int(t.feature[i]), base + pos[int(t.left[i])], fl))
                    bits.append(self._bitset_of.get((k, i), 0))
        vals = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in leafvals])
        return recs, roots, vals, bits

    # -- branchfree ------------------------------------------------------------
    def padded(self, float_t: str):
        """Complete trees of depth D in heap order (children of i: 2i+1, 2i+2).

        Returns (slots, threshold literals, nan_right flags, leaf values) for
        all trees concatenated; a leaf above depth D is padded with dummy
        tests (slot 0) whose leaves all repeat its value."""
        D = self.depth
        ni, nl = 2 ** D - 1, 2 ** D
        slots, thrs, nright, vals = [], [], [], []
        w = self.width
        for k, t in enumerate(self.trees):
            tl = self.thr_strings(t.threshold, float_t)
            s = np.zeros(ni, np.int64)
            th = ["0.0f" if self.float_cmp(float_t) else "0.0"] * ni
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
                    lv[first:first + 2 ** (D - d)] = self.leaf_rows(t, i)
                    continue
                s[h] = t.feature[i]
                th[h] = tl[i]
                nr[h] = 0 if t.nan_left[i] else 1
                stack += [(int(t.left[i]), 2 * h + 1, d + 1), (int(t.right[i]), 2 * h + 2, d + 1)]
            slots.append(s)
            thrs += th
            nright.append(nr)
            vals.append(lv.reshape(-1))
        return np.concatenate(slots), thrs, np.concatenate(nright), np.concatenate(vals)

    # -- bitvector -------------------------------------------------------------
    def bitvector(self, float_t: str):
        cache = self.__dict__.setdefault("_bitvector", {})
        if float_t not in cache:
            cache[float_t] = self._bitvector_tables(float_t)
        return cache[float_t]

    def _bitvector_layout(self):
        """Nodes per checkpoint block ``B`` and, per numeric input slot,
        ``(number of nodes testing it, number of checkpoints)`` (see
        :meth:`_bitvector_tables`).

        Every row tests ``B`` nodes per input slot, and ANDs one checkpoint
        row of ``n_trees`` masks: ``B`` grows with that row (one node per
        ``BITVECTOR_ROW_BYTES_PER_NODE`` bytes; measured best for 100 to
        1000 trees) and so that all checkpoint rows together stay within
        ``BITVECTOR_CHECKPOINT_BYTES`` (cache and C source size).  A slot
        gets checkpoints only where they save work over testing all its
        nodes."""
        row = len(self.trees) * self._mask_bits() // 8
        counts: dict[int, int] = {}
        for t in self.trees:
            for f in t.feature[(t.left >= 0) & ~t.is_cat]:
                counts[int(f)] = counts.get(int(f), 0) + 1
        n_num = sum(counts.values())
        B = int(max(BITVECTOR_MIN_BLOCK, -(-row // BITVECTOR_ROW_BYTES_PER_NODE),
                    -(-n_num * row // BITVECTOR_CHECKPOINT_BYTES)))
        return B, {f: (n, (n - 1) // B if n > B + row // BITVECTOR_ROW_BYTES_PER_NODE else 0)
                   for f, n in sorted(counts.items())}

    def _mask_bits(self) -> int:
        return next(b for b in (8, 16, 32, 64) if self.max_leaves <= b)

    def _bitvector_tables(self, float_t: str) -> dict:
        """Tables of the bitvector strategy.

        Leaves are numbered left to right; a node's mask clears the bits of
        the leaves of its left subtree; ``bits`` is the mask width (8, 16, 32
        or 64: the smallest holding the largest tree), ``L`` the leaf rows
        per tree in ``vals``.

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
        ``n`` when there are no checkpoints).  ``nan``: what a NaN input
        does: ``"none"`` (every node sends NaN left: ``x > t`` is false),
        ``"all"`` (every node sends it right: ``!(x <= t)`` is true),
        ``"some"`` (a branch applies the records listed in
        ``nanidx[nan_off .. nan_off + nan_n - 1]``).
        ``cats``: categorical nodes ``(xc slot, bitset index, tree, mask
        literal, nan_left)`` in tree order."""
        bits = self._mask_bits()
        full = (1 << bits) - 1
        suffix = "ull" if bits == 64 else "u"
        B, layout = self._bitvector_layout()

        def lit(m):
            return f"0x{m:0{bits // 4}x}{suffix}"

        fcmp = self.float_cmp(float_t)
        L = self.max_leaves
        W = self.width
        NT = len(self.trees)
        per_feat: dict[int, list] = {}
        cats = []
        vals = np.zeros((NT, L, W))
        for k, t in enumerate(self.trees):
            first, n_left = t.leaf_order()
            lits = self.thr_strings(t.threshold, float_t)
            keyv = float32_floor(t.threshold).astype(np.float64) if fcmp else t.threshold
            for i in range(t.n_nodes):
                if t.left[i] < 0:
                    vals[k, first[i]] = self.leaf_rows(t, i)
                    continue
                m = full & ~(((1 << int(n_left[i])) - 1) << int(first[i]))
                if t.is_cat[i]:
                    cats.append((int(t.feature[i]), self._bitset_of[(k, i)], k, lit(m), bool(t.nan_left[i])))
                else:
                    per_feat.setdefault(int(t.feature[i]), []).append(
                        (float(keyv[i]), k, i, lits[i], m, bool(t.nan_left[i])))
        thr, tree, mask, nanidx, feats, bth = [], [], [], [], [], []
        cp = [np.full(NT, full, dtype=np.uint64)]  # row 0: no block applied
        for f in sorted(per_feat):
            nodes = sorted(per_feat[f], key=lambda r: (r[0], r[1], r[2]))
            n, nb = layout[f]
            assert n == len(nodes)
            off = len(thr)
            right = [j for j, r in enumerate(nodes) if not r[5]]
            fe = dict(slot=f, off=off, n=n, nb=nb, scan=B if nb else n, bth_off=len(bth), cp_off=len(cp) - 1,
                      nan="none" if not right else "all" if len(right) == n else "some")
            cur = np.full(NT, full, dtype=np.uint64)
            for j, (_, k, _, tl, m, _) in enumerate(nodes):
                thr.append(tl)
                tree.append(k)
                mask.append(lit(m))
                cur[k] &= np.uint64(m)
                if (j + 1) % B == 0 and (j + 1) // B <= nb:
                    cp.append(cur.copy())
                    bth.append(tl)
            # padding up to a whole last block (+inf: never applied, harmless if it were)
            for _ in range((nb + 1) * B - n if nb else 0):
                thr.append("INFINITY")
                tree.append(0)
                mask.append(lit(full))
            if fe["nan"] == "some":
                fe["nan_off"], fe["nan_n"] = len(nanidx), len(right)
                nanidx += [off + j for j in right]
            feats.append(fe)
        # (decimal: the checkpoint rows can be large, keep the C short)
        cp_lits = [str(int(v)) + ("u" if bits == 64 else "") for row in cp for v in row]
        return dict(bits=bits, mtype={8: "unsigned char", 16: "unsigned short", 32: "unsigned int",
                                      64: "unsigned long long"}[bits],
                    L=L, B=B, feats=feats, thr=thr, tree=tree, mask=mask, nanidx=nanidx, cats=cats,
                    bth=bth, cp=cp_lits, vals=vals.reshape(-1), all_ones=lit(full))

    def period(self):
        """K when tree t adds one number at offset t % K (boosting: trees
        m-major, class-minor): the template then keeps K register
        accumulators.  None otherwise."""
        K = self.n_out
        n = len(self.trees)
        if self.leaf_ids or self.width != 1 or K > 16 or n % K:
            return None
        if not np.array_equal(self.offsets, np.arange(n) % K):
            return None
        return K

    def offsets_all(self) -> list[int]:
        return [self.tree_offset(k) for k in range(len(self.trees))]


class ArgMax(Op):
    """Index of the first maximum as a float; for a single input the class
    index ``x > threshold`` (``x >= threshold`` when ``inclusive``)."""

    template = "ops/tree_argmax.c.j2"

    def __init__(self, threshold: float = 0.0, inclusive: bool = False):
        self.threshold = float(threshold)
        self.inclusive = bool(inclusive)

    def out_width(self, w):
        return 1


class Normalize(Op):
    """``y = x / sum(x)``; a zero sum gives the uniform vector (sklearn's
    one-vs-rest probability normalisation)."""

    template = "ops/tree_normalize.c.j2"

    def out_width(self, w):
        return w[0]
