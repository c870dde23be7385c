"""Action-codebook selection: a subset of real sub-action sentences that becomes the action codebook.

Every code is a sentence of the corpus (its row in the embedding folder is kept), so a code can
always be read as text. Four selection methods:

- ``prune``: walk the sentences in corpus order and keep one unless it is more cosine-similar
  than ``threshold`` to one already kept (the plan's "remove one of each near-duplicate pair of
  the Gram matrix"). ``size`` instead of ``threshold`` searches the threshold that keeps at most
  ``size`` codes.
- ``kmeans``: k-means on the unit-normalised embeddings (scikit-learn, seeded); each centroid is
  snapped to a distinct nearest sentence by an optimal one-to-one assignment (Hungarian).
- ``fps``: farthest-point sampling in cosine distance, starting from the sentence nearest the
  mean of all (deterministic; the seed is not used).
- ``community``: Louvain community detection (networkx, seeded) on the graph whose edges join
  sentences with cosine above ``threshold`` (default: the 90th percentile of all pairwise
  similarities); one code per community: the member closest to the community's mean.
  ``size`` instead of ``threshold`` searches the threshold whose community count is closest.

:data:`DEFAULT_METHOD` is ``kmeans``: it gives exactly the requested size, spreads codes where
sentences are dense (the codes a quantiser will actually use, unlike ``fps`` which favours
outliers), is seeded, and needs no threshold tuned to one encoder's similarity scale.

Coverage (:func:`codebook_coverage`): a code *serves* a label when it is the nearest code (cosine)
of at least one of that label's sentences. A label *has a code of its own* when some code's
sentence comes from that label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from ..atomic import atomic_dir
from ..errors import UserError
from ..text.embeddings import EmbeddingSet
from .similarity import cosine_matrix, nearest_rows, unit_rows

METHODS = ("kmeans", "prune", "fps", "community")
DEFAULT_METHOD = "kmeans"
DEFAULT_SIZE = 64  # the plan: about as many action codes as shape codes (64)
DEFAULT_PRUNE_THRESHOLD = 0.9
COMMUNITY_QUANTILE = 0.9
FORMAT = "mmvq-action-codebook"


@dataclass
class ActionCodebook:
    """Selected codes: rows into ``embeddings.subactions`` and their vectors and sentences."""

    rows: np.ndarray  # (M,) int64, row indices into the embedding folder's subactions
    vectors: np.ndarray  # (M, D) float32
    sentences: list[str]  # (M,)
    source_labels: list[str]  # (M,) label each code's sentence belongs to
    method: str
    meta: dict[str, Any] = field(default_factory=dict)  # threshold, seed, encoder, view, ...

    def __post_init__(self) -> None:
        self.rows = np.asarray(self.rows, dtype=np.int64)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2:
            raise ValueError("codebook vectors must be 2-D (M, D)")
        if not (len(self.rows) == len(self.vectors) == len(self.sentences) == len(self.source_labels)):
            raise ValueError("codebook rows / vectors / sentences / source_labels differ in length")

    @property
    def size(self) -> int:
        return int(len(self.rows))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


# ----------------------------------------------------------------------------- selection


def select_codebook(
    embeddings: EmbeddingSet,
    method: str = DEFAULT_METHOD,
    size: int | None = None,
    threshold: float | None = None,
    seed: int = 0,
) -> ActionCodebook:
    """Select an action codebook from the sub-action sentences of ``embeddings``.

    ``size`` is the number of codes (kmeans, fps: default ``min(64, distinct sentences)``;
    prune, community: an alternative to ``threshold``). ``threshold`` is a cosine in [-1, 1]
    (prune, community only). Codes are distinct sentences, returned in corpus order.
    Bad arguments raise :class:`UserError`.
    """
    if method not in METHODS:
        raise UserError("--method", f"unknown codebook method '{method}' (choose from {', '.join(METHODS)})")
    candidates = _distinct_rows(embeddings)
    if len(candidates) == 0:
        raise UserError("embeddings", "has no sub-action sentences to select codes from")
    if size is not None and not 1 <= size <= len(candidates):
        raise UserError("--size", f"must be between 1 and the number of distinct sub-actions ({len(candidates)}), got {size}")
    if threshold is not None:
        if method in ("kmeans", "fps"):
            raise UserError("--threshold", f"is not used by method '{method}' (use --size)")
        if not -1.0 <= threshold <= 1.0:
            raise UserError("--threshold", f"must be a cosine in [-1, 1], got {threshold}")
        if size is not None:
            raise UserError("--threshold", "give --size or --threshold, not both")

    vectors = unit_rows(embeddings.subactions[candidates])
    meta: dict[str, Any] = {"seed": seed, "requested_size": size}
    if method == "prune":
        if size is not None:
            threshold = _search_prune_threshold(vectors, size)
        threshold = DEFAULT_PRUNE_THRESHOLD if threshold is None else threshold
        chosen = prune_indices(vectors, threshold)
        meta["threshold"] = float(threshold)
    elif method == "kmeans":
        chosen = kmeans_indices(vectors, size or min(DEFAULT_SIZE, len(candidates)), seed)
    elif method == "fps":
        chosen = fps_indices(vectors, size or min(DEFAULT_SIZE, len(candidates)))
    else:
        if threshold is None:
            threshold = _search_community_threshold(vectors, size, seed) if size else _similarity_quantile(vectors, COMMUNITY_QUANTILE)
        chosen, n_communities = community_indices(vectors, threshold, seed)
        meta.update(threshold=float(threshold), communities=n_communities)

    rows = np.sort(candidates[np.asarray(chosen, dtype=np.int64)])
    meta.update({k: embeddings.meta.get(k) for k in ("encoder", "pooling", "view") if k in embeddings.meta})
    meta["n_subactions"] = int(len(embeddings.subactions))
    return ActionCodebook(
        rows=rows,
        vectors=embeddings.subactions[rows],
        sentences=[embeddings.sentences[r] for r in rows],
        source_labels=[embeddings.labels[embeddings.owner[r]] for r in rows],
        method=method,
        meta=meta,
    )


def _distinct_rows(embeddings: EmbeddingSet) -> np.ndarray:
    """First row of every distinct sentence text (codes must be distinct sentences)."""
    seen: set[str] = set()
    rows = []
    for row, sentence in enumerate(embeddings.sentences):
        if sentence not in seen:
            seen.add(sentence)
            rows.append(row)
    return np.asarray(rows, dtype=np.int64)


def prune_indices(unit_vectors: np.ndarray, threshold: float) -> list[int]:
    """Greedy near-duplicate removal: keep a row unless its cosine to a kept row exceeds ``threshold``."""
    similarity = np.clip(unit_vectors @ unit_vectors.T, -1.0, 1.0)
    kept: list[int] = []
    for i in range(len(unit_vectors)):
        if not kept or similarity[i, kept].max() <= threshold:
            kept.append(i)
    return kept


def _search_prune_threshold(unit_vectors: np.ndarray, size: int) -> float:
    """Largest pairwise-similarity threshold whose greedy prune keeps at most ``size`` rows."""
    similarity = np.clip(unit_vectors @ unit_vectors.T, -1.0, 1.0)
    candidates = np.unique(np.concatenate([[-1.0], similarity[np.triu_indices(len(similarity), 1)]]))
    lo, hi = 0, len(candidates) - 1  # prune(candidates[0] = -1) keeps one row <= size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(prune_indices(unit_vectors, float(candidates[mid]))) <= size:
            lo = mid
        else:
            hi = mid - 1
    return float(candidates[lo])


def kmeans_indices(unit_vectors: np.ndarray, size: int, seed: int) -> list[int]:
    """k-means centroids snapped one-to-one to their most similar rows (Hungarian assignment)."""
    kmeans = KMeans(n_clusters=size, n_init=10, random_state=seed).fit(unit_vectors)
    similarity = cosine_matrix(kmeans.cluster_centers_, unit_vectors)  # (size, N)
    _, chosen = linear_sum_assignment(-similarity)
    return [int(i) for i in chosen]


def fps_indices(unit_vectors: np.ndarray, size: int) -> list[int]:
    """Farthest-point sampling in cosine distance, starting at the row nearest the overall mean."""
    first = int(np.argmax(unit_vectors @ unit_rows(unit_vectors.mean(axis=0, keepdims=True))[0]))
    chosen = [first]
    distance = 1.0 - unit_vectors @ unit_vectors[first]  # cosine distance to the chosen set
    distance[first] = -np.inf
    while len(chosen) < size:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, 1.0 - unit_vectors @ unit_vectors[nxt])
        distance[chosen] = -np.inf
    return chosen


def community_indices(unit_vectors: np.ndarray, threshold: float, seed: int) -> tuple[list[int], int]:
    """Louvain communities of the thresholded similarity graph; per community the member nearest its mean."""
    similarity = np.clip(unit_vectors @ unit_vectors.T, -1.0, 1.0)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(unit_vectors)))
    rows, cols = np.nonzero(np.triu(similarity > threshold, 1))
    # Louvain needs positive weights: shift cosines from [-1, 1] to (0, 2].
    graph.add_weighted_edges_from((int(i), int(j), float(similarity[i, j]) + 1.0) for i, j in zip(rows, cols))
    communities = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    chosen = []
    for members in sorted(communities, key=min):
        members = np.asarray(sorted(members))
        centre = unit_rows(unit_vectors[members].mean(axis=0, keepdims=True))[0]
        chosen.append(int(members[np.argmax(unit_vectors[members] @ centre)]))
    return chosen, len(communities)


def _similarity_quantile(unit_vectors: np.ndarray, q: float) -> float:
    similarity = unit_vectors @ unit_vectors.T
    off_diagonal = similarity[np.triu_indices(len(similarity), 1)]
    return float(np.quantile(off_diagonal, q)) if off_diagonal.size else 1.0


def _search_community_threshold(unit_vectors: np.ndarray, size: int, seed: int) -> float:
    """Threshold (bisection over similarity quantiles) whose community count is closest to ``size``."""
    lo, hi = 0.0, 1.0
    best = (np.inf, 1.0)
    for _ in range(20):
        q = (lo + hi) / 2
        threshold = _similarity_quantile(unit_vectors, q)
        count = community_indices(unit_vectors, threshold, seed)[1]
        best = min(best, (abs(count - size), threshold))
        if count == size:
            break
        if count < size:
            lo = q  # too few communities: raise the threshold (fewer edges)
        else:
            hi = q
    return float(best[1])


# ----------------------------------------------------------------------------- use


def quantize(vectors: np.ndarray, codebook: ActionCodebook) -> np.ndarray:
    """Replace each row of ``vectors`` (N, D) by its most cosine-similar code -> (N, D) float32."""
    check_codebook_dim(codebook, vectors.shape[1])
    return codebook.vectors[nearest_rows(vectors, codebook.vectors)]


def check_codebook_dim(codebook: ActionCodebook, dim: int, where: str | Path = "--codebook") -> None:
    """UserError when the codebook's vectors do not have the embeddings' dimension."""
    if codebook.dim != dim:
        raise UserError(where, f"codebook vectors have dimension {codebook.dim} but the embeddings have {dim}")


def codebook_coverage(codebook: ActionCodebook, embeddings: EmbeddingSet) -> dict[str, Any]:
    """Which labels each code serves (nearest code of some of the label's sentences), and the gaps.

    Returns a JSON-ready dict: ``codes_per_label`` {label: number of codes serving it},
    ``own_codes_per_label`` {label: codes drawn from its sentences}, ``labels_without_own_code``,
    ``labels_per_code`` (M,), ``shared_codes`` (codes serving two or more labels, with the
    labels), ``unused_codes`` (nearest code of no sentence), ``mean_cosine_to_code``.
    """
    check_codebook_dim(codebook, embeddings.dim)
    similarity = cosine_matrix(embeddings.subactions, codebook.vectors)  # (N, M)
    nearest = np.argmax(similarity, axis=1)
    served: list[set[str]] = [set() for _ in range(codebook.size)]
    for row, code in enumerate(nearest):
        served[code].add(embeddings.labels[embeddings.owner[row]])
    codes_per_label = {label: 0 for label in embeddings.labels}
    for labels in served:
        for label in labels:
            codes_per_label[label] += 1
    own = {label: 0 for label in embeddings.labels}
    for label in codebook.source_labels:
        if label in own:
            own[label] += 1
    return {
        "size": codebook.size,
        "n_subactions": int(len(embeddings.subactions)),
        "codes_per_label": codes_per_label,
        "own_codes_per_label": own,
        "labels_without_own_code": [label for label, n in own.items() if n == 0],
        "labels_per_code": [len(labels) for labels in served],
        "shared_codes": [
            {"code": i, "sentence": codebook.sentences[i], "source_label": codebook.source_labels[i], "serves": sorted(labels)}
            for i, labels in enumerate(served)
            if len(labels) >= 2
        ],
        "unused_codes": [i for i, labels in enumerate(served) if not labels],
        "mean_cosine_to_code": float(similarity.max(axis=1).mean()),
    }


# ----------------------------------------------------------------------------- files


def save_codebook(codebook: ActionCodebook, out_dir: str | Path) -> Path:
    """Write ``codebook.json`` (sentences, source labels, rows, method, meta) and ``codebook.pt`` (M, D)."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        write_codebook_files(codebook, tmp)
    return out_dir


def write_codebook_files(codebook: ActionCodebook, folder: Path) -> None:
    """Write codebook.json and codebook.pt into an existing folder (used inside atomic_dir)."""
    index = {
        "format": FORMAT,
        "method": codebook.method,
        "size": codebook.size,
        "dim": codebook.dim,
        "rows": codebook.rows.tolist(),
        "sentences": list(codebook.sentences),
        "source_labels": list(codebook.source_labels),
        "meta": codebook.meta,
    }
    (folder / "codebook.json").write_text(json.dumps(index, indent=2, default=_plain) + "\n")
    torch.save(torch.from_numpy(codebook.vectors.copy()), folder / "codebook.pt")


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_codebook(path: str | Path) -> ActionCodebook:
    """Read a codebook folder (or its ``codebook.json`` / ``codebook.pt``); bad files raise UserError."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    json_path, pt_path = folder / "codebook.json", folder / "codebook.pt"
    if not folder.is_dir():
        raise UserError(path, "is not a codebook folder (expected the output of `mmvq analyze codebook`)")
    for file in (json_path, pt_path):
        if not file.is_file():
            raise UserError(file, "missing from the codebook folder")
    try:
        index = json.loads(json_path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(json_path, f"is not valid JSON ({err})") from None
    if not isinstance(index, dict) or any(k not in index for k in ("rows", "sentences", "source_labels")):
        raise UserError(json_path, "needs 'rows', 'sentences' and 'source_labels' entries")
    try:
        vectors = torch.load(pt_path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a corrupt file
        raise UserError(pt_path, f"cannot be read as a tensor file ({type(err).__name__})") from None
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2:
        raise UserError(pt_path, "must hold one (M, D) tensor")
    vectors = vectors.float().numpy()
    if len(vectors) != len(index["sentences"]):
        raise UserError(pt_path, f"holds {len(vectors)} vectors but codebook.json lists {len(index['sentences'])} sentences")
    if not np.isfinite(vectors).all():
        raise UserError(pt_path, "contains NaN or inf")
    try:
        return ActionCodebook(
            rows=np.asarray(index["rows"], dtype=np.int64),
            vectors=vectors,
            sentences=[str(s) for s in index["sentences"]],
            source_labels=[str(s) for s in index["source_labels"]],
            method=str(index.get("method", "unknown")),
            meta=dict(index.get("meta") or {}),
        )
    except (ValueError, TypeError) as err:
        raise UserError(json_path, f"inconsistent codebook: {err}") from None
