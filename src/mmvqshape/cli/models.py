"""CLI commands: models (``mmvq convert-vqshape``)."""

from __future__ import annotations

from pathlib import Path

import typer


def convert_vqshape_command(
    ckpt: Path = typer.Argument(..., help="Reference VQShape checkpoint: Lightning .ckpt, torch state_dict, or .safetensors."),
    out: Path = typer.Option(..., "--out", help="Our checkpoint file to write (.safetensors)."),
    config: Path = typer.Option(None, "--config", help="Reference constructor arguments as JSON (for a bare state_dict; "
                                "default for .safetensors: config.json beside it)."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow full unpickling of a checkpoint that "
                                      "needs it (runs code from the file: only for files you trust)."),
) -> None:
    """Convert a reference VQShape checkpoint (YunshiWen/VQShape) into ours."""
    # lazy: pipelines import torch and other slow libraries; --help and other commands stay fast
    from ..pipelines.vqshape_convert import convert_vqshape

    result = convert_vqshape(ckpt, out, config=config, trust_pickle=trust_pickle)
    cfg = result["config"]
    typer.echo(
        f"wrote {result['out']}: VQShape d={cfg['dim_embedding']}, {cfg['num_token']} tokens, "
        f"codebook {cfg['num_code']}x{cfg['dim_code']}, {result['n_parameters']:,} parameters"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("convert-vqshape")(convert_vqshape_command)
