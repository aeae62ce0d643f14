"""How long input preparation takes for the heaviest inputs a person is likely to give.

    python bench/bench_prepare.py [--runs 7]

Cases (made on the spot, nothing downloaded):
- audio: 60 s of 48 kHz stereo 16-bit WAV (11.5 MB: over 5 MB, so it is transcoded to MP3);
- photo: a 5000×4000 noisy JPEG of about 10 MB (over 4096 px, so it is decoded, downscaled
  and re-encoded);
- phone photo: a 4000×3000 JPEG with EXIF and GPS (compliant: only its metadata is cut);
- both: the photo and the audio through `InputPreparer.prepare`, as the app and CLI call it.
Prints the median and the range of `--runs` runs for each; the target is under 1 s for
"both" on 2 cores.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.inputs.audio import prepare_audio  # noqa: E402
from avatar_core.inputs.ffmpeg import run_ffmpeg  # noqa: E402
from avatar_core.inputs.image import prepare_image  # noqa: E402
from avatar_core.inputs.preparation import InputPreparer  # noqa: E402


def studio_wav(path: Path) -> None:
    """60 s, 48 kHz, stereo: a tone and pink noise, so levels vary like a voice."""
    graph = "sine=f=180:r=48000:d=60[a];anoisesrc=r=48000:c=pink:a=0.1:d=60[b];[a][b]amix=inputs=2"
    done = run_ffmpeg(["-filter_complex", graph, "-ac", "2", "-c:a", "pcm_s16le", "-y", str(path)])
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode())


def photo(width: int, height: int, quality: int, exif: Image.Exif | None = None) -> bytes:
    """A photo-sized picture: gradients with strong grain (grain is what makes photos big)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    grain = [Image.effect_noise((width, height), sigma) for sigma in (30, 40, 50)]
    channels = [Image.blend(gradient, g, 0.5) for g in grain]
    buffer = io.BytesIO()
    Image.merge("RGB", channels).save(buffer, "JPEG", quality=quality, exif=exif or b"")
    return buffer.getvalue()


def measure(name: str, runs: int, action: Callable[[], object]) -> float:
    action()  # warm up: imports, caches, page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{name:<44} median {median:6.3f} s   (min {min(times):.3f}, max {max(times):.3f})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "studio.wav"
        studio_wav(wav)
        big = Path(folder) / "photo.jpg"
        big.write_bytes(photo(5000, 4000, quality=92))
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 8.0)}
        phone = Path(folder) / "phone.jpg"
        phone.write_bytes(photo(4000, 3000, quality=85, exif=exif))

        audio = prepare_audio(wav)
        image = prepare_image(big)
        print(f"audio in:  {wav.stat().st_size / 1e6:.1f} MB WAV -> {audio.summary()}")
        print(f"photo in:  {big.stat().st_size / 1e6:.1f} MB JPEG -> {image.summary()}")
        phoned = prepare_image(phone)
        print(f"phone in:  {phone.stat().st_size / 1e6:.1f} MB JPEG -> {phoned.summary()}")
        print()
        measure("audio: 60 s 48 kHz stereo WAV", args.runs, lambda: prepare_audio(wav))
        measure("photo: 5000x4000 JPEG", args.runs, lambda: prepare_image(big))
        measure(
            "phone photo: 4000x3000 JPEG, metadata only", args.runs, lambda: prepare_image(phone)
        )
        measure(
            "both, through InputPreparer.prepare",
            args.runs,
            lambda: InputPreparer().prepare(big, wav),
        )


if __name__ == "__main__":
    main()
