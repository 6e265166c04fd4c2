"""`pandian fit`, `pandian gguf`, `pandian serve-model`: sizing, making and serving model variants."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from pandian.cli import app
from pandian.cli.common import console, err, fail


@app.command()
def fit(
    model: str = typer.Argument(..., help="model directory, config.json, or a hub id in the local cache"),
    gpu: str = typer.Option(..., help="GPU memory, e.g. 24GB, 80G, 24"),
    quant: Optional[str] = typer.Option(None, help="int8, int4 (bitsandbytes), gptq-int8, gptq-int4, awq"),
    context: int = typer.Option(2048, help="prompt + generated tokens"),
    batch: int = typer.Option(1),
    as_json: bool = typer.Option(False, "--json"),
):
    """Predict inference GPU memory (weights + KV cache + activations + overhead) from config.json alone."""
    from pandian.core.fit import fit_report

    try:
        print(fit_report(model, gpu, quant, context, batch, as_json))
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))


@app.command()
def gguf(
    model_dir: Path = typer.Argument(..., help="a local Hugging Face model directory"),
    out: Path = typer.Option(..., help="the .gguf file to write"),
    type_: str = typer.Option("q4_k_m", "--type", help="f32, f16, bf16, q8_0, q4_k_m, q4_0"),
    llama_cpp_dir: Optional[Path] = typer.Option(None, help="llama.cpp source tree [env LLAMA_CPP_DIR]"),
    pretokenizer: Optional[str] = typer.Option(None, help="name the BPE pre-tokenizer when llama.cpp cannot tell "
                                                         "(e.g. qwen2 for a tokenizer trained with Qwen2's rules)"),
):
    """Make a GGUF variant of a local model with llama.cpp's converter and quantizer (for --model X.gguf)."""
    from pandian.backends.base import ModelLoadError
    from pandian.backends.llamacpp import convert_to_gguf, quantize_gguf

    try:
        if type_ in ("f32", "f16", "bf16", "q8_0"):
            convert_to_gguf(model_dir, out, type_, llama_cpp_dir, pretokenizer)
        else:
            full = out.with_suffix(".f32.gguf")
            convert_to_gguf(model_dir, full, "f32", llama_cpp_dir, pretokenizer)
            quantize_gguf(full, out, type_)
            full.unlink()
    except (ModelLoadError, KeyError) as e:
        fail(f"{e}")
    console.print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)", highlight=False, markup=False)


@app.command("serve-model")
def serve_model(
    model: str = typer.Argument(..., help="local directory or hub id of a causal LM"),
    host: str = typer.Option("127.0.0.1", help="bind address (loopback by default)"),
    port: int = typer.Option(8000),
    device: str = typer.Option("auto"),
    dtype: str = typer.Option("auto"),
    served_name: Optional[str] = typer.Option(None, help="model name clients use (default: the directory name)"),
    api_key_env: Optional[str] = typer.Option(None, help="require the key held in this environment variable"),
    trust_remote_code: bool = typer.Option(False),
):
    """Serve a local model over the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models)."""
    from pandian.app.serve import ServeConfigError, exposure_warning, serve, server_key

    try:
        api_key = server_key(api_key_env)  # before the model loads: a missing key is a mistake, not a default
    except ServeConfigError as e:
        fail(str(e))
    warning = exposure_warning(host, api_key)
    if warning:
        err.print(f"[bold red]WARNING:[/] {escape(warning)}", highlight=False)
    serve(model, host=host, port=port, device=device, dtype=dtype, served_name=served_name, api_key=api_key,
          trust_remote_code=trust_remote_code)
