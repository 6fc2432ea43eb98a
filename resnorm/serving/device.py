"""Sharing one GPU between several training processes: a cap on each process's CUDA memory.

Every training uses the default CUDA device (``device=auto`` or ``cuda``), so with
``RESNORM_MAX_TRAININGS`` = N the N worker processes share that GPU. ``limit_cuda_memory`` gives each
an equal share, 1/N of the GPU's memory, unless ``RESNORM_CUDA_MEMORY_FRACTION`` says otherwise; a
process that needs more gets PyTorch's out-of-memory error (its run ends as ``failed``) instead of
starving the others. The cap applies to PyTorch's caching allocator: each process's CUDA context
(a few hundred MiB) comes on top of it.

Call it once in a worker process, before its training allocates anything on the GPU; not in a
process where several trainings run as threads (the cap is per process, not per training).
"""
from __future__ import annotations


from .. import settings

MEMORY_FRACTION_ENV = "RESNORM_CUDA_MEMORY_FRACTION"


def cuda_memory_fraction(capacity: int | None = None) -> float:
    """The share of the GPU's memory one training process may use: ``RESNORM_CUDA_MEMORY_FRACTION``
    when set (a number with 0 < f ≤ 1), else 1 / ``capacity`` (default: the training-slot cap,
    ``resnorm.serving.slots.default_capacity()``). A malformed value raises ``ConfigError`` naming the variable."""
    fraction = settings.get(MEMORY_FRACTION_ENV)
    if fraction is not None:
        return fraction
    if capacity is None:
        from .slots import default_capacity

        capacity = default_capacity()
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a whole number >= 1, not {capacity!r}")
    return 1.0 / capacity


def limit_cuda_memory(device="auto", capacity: int | None = None) -> float | None:
    """Cap this process's CUDA memory at ``cuda_memory_fraction(capacity)`` of the GPU that ``device``
    names (a config's ``device`` string, ``"cuda:1"`` or a ``torch.device``; ``"auto"`` and ``None``
    mean CUDA when present). Returns the fraction set, or None when there is nothing to cap: no CUDA,
    or a CPU device (the environment variable is then not read)."""
    import torch

    if not torch.cuda.is_available():
        return None
    dev = torch.device("cuda" if device in (None, "auto") else device)
    if dev.type != "cuda":
        return None
    fraction = cuda_memory_fraction(capacity)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    torch.cuda.set_per_process_memory_fraction(fraction, index)
    return fraction
