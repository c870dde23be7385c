"""Analysis of sub-action embeddings: projections, Gram matrix, reconstruction probe, codebooks.

Modules (import the one you need; nothing heavy is imported here):

- :mod:`.similarity` — cosine helpers shared by the others;
- :mod:`.projection` — t-SNE / UMAP / PCA coordinates;
- :mod:`.gram` — cosine Gram matrix, within/between-label statistics, closest cross-label pairs;
- :mod:`.recon` — the plan's ProjectionModel probe (label embedding from its sub-actions);
- :mod:`.codebook` — action-codebook selection (prune, kmeans, fps, community) and coverage;
- :mod:`.figures` — matplotlib / plotly drawings of the above;
- :mod:`.threads` — one-thread limits (small matrices; fastest on a shared CPU).
"""
