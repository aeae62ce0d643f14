"""How long the simulator takes to render its video, for speech of 10 s and 60 s.

    python bench/simulator_render.py [--sides 512 720] [--seconds 10 60]

Speech comes from the simulator's own TTS (its loudness varies like speech, so many frame
levels are drawn); the portrait is assets/astronaut.jpg scaled to 1024 px so the render
has to shrink it. Prints one line per case: seconds of audio, frame size, wall time.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatar_core.simulator.render import render_avatar  # noqa: E402
from avatar_core.simulator.tts import encode_mp3, synthesize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 720])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    args = parser.parse_args()
    portrait = io.BytesIO()
    Image.open(ROOT / "assets" / "astronaut.jpg").resize((1024, 1024)).save(portrait, "JPEG")
    with tempfile.TemporaryDirectory() as folder:
        for seconds in args.seconds:
            text = ("Hello, this is a simulated speech sample. " * 100)[: int(seconds * 14)]
            speech = Path(folder) / f"speech-{seconds:g}.mp3"
            encode_mp3(synthesize(text, "uk_man2", 1.0), speech)
            for side in args.sides:
                started = time.perf_counter()
                result = render_avatar(
                    portrait.getvalue(), speech, Path(folder) / "out.mp4", max_side=side
                )
                took = time.perf_counter() - started
                print(
                    f"{result.duration:5.1f} s audio  {result.width}x{result.height}  "
                    f"{took:5.2f} s render"
                )


if __name__ == "__main__":
    main()
