"""What a model reference points at, read from the files alone (no torch, no weights loaded): a local directory,
a hub id in the local cache, or a GGUF file. Checked before a run, so that a directory that is not a model, a
missing or truncated shard, or a tokenizer without a chat template is a one-line error, not a traceback after a
long load."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from pandian import settings
from pandian.backends.base import ModelLoadError

HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.py", "*.tiktoken", "*.bin", "*.jinja"]


def looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or "\\" in ref or ref.count("/") > 1 or Path(ref).expanduser().exists()


def cached_snapshot(ref: str, revision: str | None = None) -> Path | None:
    """The hub cache's copy of `ref`, without any network call; None when it is not there."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(ref, revision=revision, allow_patterns=HUB_PATTERNS, local_files_only=True))
    except Exception:  # not cached, an id the hub library rejects, or no hub library: not in the cache either way
        return None


def unreachable(ref: str, why: str) -> ModelLoadError:
    return ModelLoadError(
        f"model '{ref}' is not a local directory and {why}. Pass a local directory (--model /path/to/model), "
        "or `modelscope:ID` with the modelscope package installed, or set HF_ENDPOINT to a reachable mirror.")


def local_model_dir(ref: str, revision: str | None = None) -> Path | None:
    """The directory `ref` names, locally: a path, or the hub cache's snapshot. None: a hub id to download (the
    hub answers). ModelLoadError when it can be had from nowhere."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise ModelLoadError(f"--model {ref}: a file, not a model directory (a .gguf file, a Hugging Face model "
                             "directory or a hub id)")
    if looks_like_path(ref):
        raise ModelLoadError(f"--model {ref}: no such directory")
    if ref.startswith("modelscope:"):
        return None
    cached = cached_snapshot(ref, revision)
    if cached is not None and weight_problem(cached) is None:
        return cached
    if not settings.hub_reachable():
        if cached is not None:
            return cached  # what the cache holds; the directory check names what is missing
        raise unreachable(ref, "is not in the Hugging Face cache, and the hub cannot be reached (offline)")
    return None  # the hub answers: download (or complete) it


def has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(config.get("chat_template"))


def _safetensors_problem(f: Path) -> str | None:
    """Why a .safetensors file cannot be whole: its header names more bytes than the file has."""
    size = f.stat().st_size
    with f.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"{size} bytes, shorter than a safetensors header"
        (n,) = struct.unpack("<Q", head)
        if n > size - 8:
            return f"{size} bytes, shorter than its own header says ({n} header bytes)"
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            return "its header is not valid JSON (not a safetensors file, or damaged)"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if size < 8 + n + end:
        return f"truncated: {size} bytes, its header needs {8 + n + end} (an interrupted download or copy?)"
    return None


def index_shards(index: Path) -> list[str]:
    """The shard file names a weight index (model.safetensors.index.json) lists; ValueError or KeyError when it
    is not one."""
    return sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))


def weight_problem(path: Path) -> str | None:
    """None when the directory's weights are all there; else what is missing or damaged."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = path / index_name
        if index.is_file():
            try:
                shards = index_shards(index)
            except (ValueError, KeyError):
                return f"{index} is not a valid weight index (no weight_map)"
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                return f"{len(missing)} of {len(shards)} weight shards listed in {index_name} are missing: " \
                       f"{', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}"
            files = [path / s for s in shards]
            break
    else:
        files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin")) or \
            sorted(path.glob("*.bin")) or sorted(path.glob("*.pt")) or sorted(path.glob("*.pth"))
        if not files:
            return "no weights (model.safetensors, model-*-of-*.safetensors with their index, or pytorch_model.bin)"
    for f in files:
        if f.suffix == ".safetensors":
            problem = _safetensors_problem(f)
        else:
            with f.open("rb") as fh:
                magic = fh.read(2)
            # torch.save writes a zip, whose directory is at its end: a cut file has none (old pickles: unchecked)
            problem = "empty" if not magic else "truncated: its zip directory is missing (an interrupted " \
                "download or copy?)" if magic == b"PK" and not zipfile.is_zipfile(f) else None
        if problem:
            return f"{f.name}: {problem}"
    return None


def check_model_dir(path: Path, ref: str, adapter: bool = False) -> None:
    """ModelLoadError when `path` is not a loadable model (or, adapter=True, PEFT adapter) directory."""
    flag = "--adapter" if adapter else "--model"
    if adapter:
        if not (path / "adapter_config.json").is_file():
            raise ModelLoadError(f"{flag} {ref}: not a PEFT adapter directory (no adapter_config.json)")
        return
    if not (path / "config.json").is_file():
        hint = ""
        if (path / "adapter_config.json").is_file():
            hint = " It holds a PEFT adapter: pass its base model as --model and this directory as --adapter."
        elif any(path.glob("*.gguf")):
            hint = f" It holds GGUF files: pass one of them, e.g. --model {next(path.glob('*.gguf'))}."
        raise ModelLoadError(f"{flag} {ref}: not a model directory (no config.json; a Hugging Face model directory "
                             f"has config.json, tokenizer files and weights).{hint}")
    if not any((path / n).is_file() for n in ("tokenizer.json", "tokenizer.model", "vocab.json",
                                                "tokenizer_config.json")) and not any(path.glob("*.tiktoken")):
        raise ModelLoadError(f"{flag} {ref}: no tokenizer files (tokenizer.json, tokenizer.model, vocab.json or "
                             "tokenizer_config.json)")
    problem = weight_problem(path)
    if problem:
        raise ModelLoadError(f"{flag} {ref}: {problem}")


def check_gguf(ref: str) -> None:
    path = Path(ref).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"--model {ref}: no such GGUF file")
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelLoadError(f"--model {ref}: not a GGUF file (it does not start with the GGUF magic bytes)")
