"""Group window embeddings into speakers, with the number of speakers given, bounded or estimated.

Rule (tuned on ../shared/eval/speakers and the sample interviews; see docs/speakers.md):

1. For every candidate count k (2..max) make two partitions of the L2-normed window embeddings:
   average-linkage agglomerative clustering on cosine distance, cut at the highest threshold that
   leaves k clusters (good when one voice dominates), and k-means (good when voices are balanced).
2. In each, a cluster whose windows cover less than ``min_speaker_seconds`` of speech is merged into
   the cluster with the nearest centroid (too little speech to be told apart from noise), and
   clusters whose centroids have cosine similarity >= ``merge_similarity`` are merged (one voice).
3. Each partition is scored by its cosine silhouette minus ``speaker_penalty`` per speaker beyond
   two; the best wins. When one speaker is allowed and the best silhouette is below
   ``silhouette_min``, the recording has one speaker.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

Span = tuple[float, float]  # seconds covered by one window


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    for lab in labels.tolist():
        order.setdefault(lab, len(order))
    return np.array([order[lab] for lab in labels.tolist()], dtype=int)


def coverage(spans: list[Span], mask: np.ndarray) -> float:
    """Seconds covered by the union of the selected spans."""
    total, cur = 0.0, None
    for a, b in sorted(s for s, m in zip(spans, mask) if m):
        if cur is not None and a <= cur[1]:
            cur[1] = max(cur[1], b)
        else:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = [a, b]
    return total + (cur[1] - cur[0] if cur is not None else 0.0)


def centroids(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    k = int(labels.max()) + 1 if len(labels) else 0
    c = np.stack([emb[labels == i].mean(axis=0) for i in range(k)]) if k else np.zeros((0, emb.shape[1]))
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def absorb_small(labels: np.ndarray, spans: list[Span], emb: np.ndarray, min_seconds: float) -> np.ndarray:
    """Merge, smallest first, clusters covering < min_seconds into the cluster with the nearest centroid."""
    labels = relabel(labels)
    while labels.max() > 0:
        k = int(labels.max()) + 1
        cover = [coverage(spans, labels == c) for c in range(k)]
        small = int(np.argmin(cover))
        if cover[small] >= min_seconds:
            break
        cent = centroids(emb, labels)
        sims = cent @ cent[small]
        sims[small] = -np.inf
        labels[labels == small] = int(np.argmax(sims))
        labels = relabel(labels)
    return labels


def merge_similar(labels: np.ndarray, emb: np.ndarray, max_similarity: float) -> np.ndarray:
    """Merge, most similar first, clusters whose centroids have cosine similarity >= max_similarity."""
    labels = relabel(labels)
    while labels.max() > 0:
        cent = centroids(emb, labels)
        sims = cent @ cent.T
        np.fill_diagonal(sims, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[i, j] < max_similarity:
            break
        labels[labels == j] = i
        labels = relabel(labels)
    return labels


def ahc_partition(
    emb: np.ndarray, spans: list[Span], k: int, min_seconds: float, tree: np.ndarray
) -> np.ndarray:
    """Average-linkage clusters cut at the highest threshold that leaves >= k clusters of enough speech."""
    labels = np.zeros(len(emb), dtype=int)
    for t in np.arange(1.0, 0.0, -0.01):
        labels = absorb_small(fcluster(tree, t, "distance") - 1, spans, emb, min_seconds)
        if labels.max() + 1 >= k:
            break
    return labels


def kmeans_partition(emb: np.ndarray, spans: list[Span], k: int, min_seconds: float) -> np.ndarray:
    # A few thousand points at most: one thread. sklearn's OpenMP threads spin-wait and, on a busy
    # machine, made this 20x slower than the data needs.
    with threadpool_limits(limits=1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(emb)
    return absorb_small(labels, spans, emb, min_seconds)


def _score(emb: np.ndarray, labels: np.ndarray, penalty: float) -> float:
    labels = relabel(labels)
    k = int(labels.max()) + 1
    if k < 2 or k >= len(emb):
        return -np.inf
    return float(silhouette_score(emb, labels, metric="cosine")) - penalty * max(0, k - 2)


def cluster_speakers(
    emb: np.ndarray,
    spans: list[Span],
    min_k: int,
    max_k: int,
    min_seconds: float,
    silhouette_min: float,
    penalty: float,
    merge_similarity: float = 1.0,
) -> tuple[np.ndarray, dict[str, float | int | str]]:
    """Speaker label per window, and what decided it (method, silhouette) for provenance."""
    n = len(emb)
    one = np.zeros(n, dtype=int)
    if n < 3 or max_k <= 1:
        return one, {"method": "single", "silhouette": 0.0}
    if min_k == max_k:  # a given count: keep small and similar clusters, the user knows best
        min_seconds, merge_similarity = min(min_seconds, 0.5), 1.01
    tree = linkage(emb, method="average", metric="cosine")
    best: tuple[float, np.ndarray, str] | None = None
    for k in range(max(2, min_k), min(max_k, n - 1) + 1):
        for name, labels in (
            ("agglomerative", ahc_partition(emb, spans, k, min_seconds, tree)),
            ("kmeans", kmeans_partition(emb, spans, k, min_seconds)),
        ):
            labels = merge_similar(labels, emb, merge_similarity)
            if labels.max() + 1 > max_k:
                continue
            score = _score(emb, labels, penalty)
            if best is None or score > best[0]:
                best = (score, labels, name)
    if best is None or best[0] == -np.inf:
        return one, {"method": "single", "silhouette": 0.0}
    score, labels, name = best
    if min_k <= 1 and score < silhouette_min:
        return one, {"method": "single", "silhouette": round(score, 4)}
    return relabel(labels), {"method": name, "silhouette": round(score, 4)}
