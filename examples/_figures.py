"""The gallery's one figure style: small fonts, a light grid where asked, 80 dpi PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def small_fonts(*axes: Any, grid: bool = False) -> None:
    """Tick labels at 7 pt, titles at 9 pt, axis labels at 8 pt (figures about 8 inches wide)."""
    for ax in axes:
        if grid:
            ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)


def save(fig: Any, path: Path, tight: bool = True) -> None:
    """Write `fig` as a small PNG and free it."""
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
