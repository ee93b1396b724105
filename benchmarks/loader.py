"""Training-data loader throughput (clips/s) for a data spec, with N DataLoader workers.

    python -m benchmarks.loader -i corpus:data/corpus --cache-dir data/cache --workers 0,2

The clips are :func:`vqcodec.train.data.build_dataset`'s training clips (random crops of the cached
frames); the cache is built first, untimed. Per worker count the first batch (worker start-up) is
not timed; the loader is re-iterated if the epoch ends before ``--seconds``.
"""
from __future__ import annotations

import time

import click

from benchmarks.options import cache_dir_option, input_option


def measure_loader(dataset, batch_size: int = 8, num_workers: int = 0, seconds: float = 10.0) -> float:
    """Clips per second a DataLoader over ``dataset`` delivers, over ``seconds``."""
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    n, t0 = 0, None
    while True:
        for batch in loader:
            if t0 is None:
                t0 = time.perf_counter()
                continue
            n += int(batch.shape[0])
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return n / dt


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@input_option("corpus:DIR, folder:DIR or ucf101:DIR.")
@cache_dir_option
@click.option("--frames", type=click.IntRange(1), default=32, show_default=True, help="Clip length.")
@click.option("--size", type=click.IntRange(1), default=64, show_default=True, help="Clip side.")
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--workers", default="0,2", show_default=True, help="Comma-separated DataLoader worker counts.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Timed seconds per worker count.")
def main(input_spec, cache_dir, frames, size, batch_size, workers, seconds) -> None:
    """Clips per second of the training loader."""
    from vqcodec.train.data import ClipSpec, build_dataset

    counts = [int(w) for w in workers.split(",")]
    ds = build_dataset(input_spec, "train", ClipSpec(frames, size), cache_dir, train=True,
                       samples_per_epoch=max(64, 4 * batch_size))
    click.echo(ds.describe())
    click.echo(f"{'workers':>8}{'clips/s':>10}")
    for w in counts:
        click.echo(f"{w:>8}{measure_loader(ds, batch_size, w, seconds):>10.1f}")


if __name__ == "__main__":
    main()
