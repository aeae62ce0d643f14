"""The baseline for bench_waiting.py: how a typical avatar demo waits. Not part of the app.

A blocking handler, plain HTTP calls, a fixed 5 s sleep between checks, and Gradio's
default concurrency (one request at a time per event). Same endpoint shape as the app's
`/generate`, so the benchmark drives both the same way.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import gradio as gr
import httpx

BASE = os.environ["COMETAPI_BASE_URL"].rstrip("/")
HEADERS = {"Authorization": f"Bearer {os.environ['COMETAPI_KEY']}"}
OUT = Path(os.environ["AVATAR_DATA_DIR"]) / "videos"
ROUTE = "/kling/v1/videos/avatar/image2video"


def generate(image_path: str, audio_path: str, prompt: str, mode: str) -> str:
    body = {
        "image": base64.b64encode(Path(image_path).read_bytes()).decode(),
        "sound_file": base64.b64encode(Path(audio_path).read_bytes()).decode(),
        "prompt": prompt or "The person talks.",
        "mode": mode or "std",
    }
    task_id = httpx.post(BASE + ROUTE, json=body, headers=HEADERS, timeout=60).json()["data"][
        "task_id"
    ]
    while True:
        time.sleep(5)
        data = httpx.get(f"{BASE}{ROUTE}/{task_id}", headers=HEADERS, timeout=60).json()["data"]
        if data["task_status"] == "succeed":
            url = data["task_result"]["videos"][0]["url"]
            break
        if data["task_status"] == "failed":
            raise gr.Error(data.get("task_status_msg") or "failed")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{task_id}.mp4"
    path.write_bytes(httpx.get(url, timeout=60).content)
    return str(path)


with gr.Blocks() as demo:
    image = gr.File(type="filepath")
    audio = gr.File(type="filepath")
    prompt = gr.Textbox()
    mode = gr.Textbox()
    video = gr.File()
    gr.Button("Generate").click(generate, [image, audio, prompt, mode], video, api_name="generate")

if __name__ == "__main__":
    demo.queue().launch(
        server_name="127.0.0.1",
        server_port=int(os.environ["GRADIO_SERVER_PORT"]),
        allowed_paths=[str(OUT.parent.resolve())],
        quiet=True,
    )
