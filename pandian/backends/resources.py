"""What a run cost and where it ran: memory, speed and a hardware/software fingerprint, stored with every run.

CPU peak memory is the process's peak resident set (getrusage), so it covers loading too; compare variants each
run in its own process (as `pandian eval` does). CUDA peaks come from torch's allocator (allocated and reserved).
"""

from __future__ import annotations

import os
import platform
import resource
import sys

from pandian import __version__


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict:
    """Where a run ran. torch and transformers are described only when a local model has loaded them: an API run
    imports neither."""
    info = {"cpu": cpu_model(), "cpu_cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform()}
    if "torch" not in sys.modules:
        return info
    import torch

    info.update(torch_threads=torch.get_num_threads(), torch=torch.__version__)
    if "transformers" in sys.modules:
        info["transformers"] = sys.modules["transformers"].__version__
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def process_age_s() -> float | None:
    """Seconds since this process started (Linux), so that a start-up breakdown counts the interpreter and the
    imports before pandian's own code ran; None where /proc is not there."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: start time, in clock ticks
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_gb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB on Linux


def weights_gb(model) -> float:
    """Bytes of the tensors the model stores (packed quantized weights count at their packed size; transformers'
    get_memory_footprint reports the unquantized size for some quantization libraries)."""
    seen, total = set(), 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() in seen:  # tied weights
            continue
        seen.add(t.data_ptr())
        total += t.numel() * t.element_size()
    for m in model.modules():  # bitsandbytes keeps 4-bit scales beside the packed weight
        state = getattr(getattr(m, "weight", None), "quant_state", None)
        if state is not None and getattr(state, "absmax", None) is not None:
            total += state.absmax.numel() * state.absmax.element_size()
    return total / 2**30


def memory_snapshot(device) -> dict:
    out = {"peak_rss_gb": round(peak_rss_gb(), 3)}
    if getattr(device, "type", None) == "cuda":
        import torch

        out.update(cuda_max_allocated_gb=round(torch.cuda.max_memory_allocated(device) / 2**30, 3),
                   cuda_max_reserved_gb=round(torch.cuda.max_memory_reserved(device) / 2**30, 3))
    return out


def library_versions() -> dict:
    """The versions a run was created with; the model libraries only when loaded."""
    out = {"pandian": __version__, "python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "openai", "llama_cpp", "vllm"):
        if name in sys.modules:
            out[name] = getattr(sys.modules[name], "__version__", None)
    return out
