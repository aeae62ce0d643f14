"""Every word of the interface, in English and Chinese, in one place.

Gradio translates in the browser: components get `t(key)` (a `gr.I18n` key) and the page
shows the text of the browser's language, English when it is neither. A value a handler
returns may hold one `t(key)` among plain text (Gradio translates the first key of a
string only, so a message is one key plus numbers, never two keys).

What the core says (checks of the inputs, progress, provider errors) and what the
programmatic API returns stay in English.
"""

from __future__ import annotations

import json
import re

import gradio as gr

from avatar_core.demo import DEMO_NOTICE

# key -> (English, Chinese)
TEXT: dict[str, tuple[str, str]] = {
    "intro": (
        "# Talking Avatar Studio\n"
        "One portrait and one voice become a talking-avatar video with Kling Avatar.",
        "# 数字人说话工作室\n一张人像加一段声音，用 Kling Avatar 生成会说话的数字人视频。",
    ),
    "demo_banner": (
        f"> 🧪 **{DEMO_NOTICE}**",
        "> 🧪 **演示模式：未设置 COMETAPI_KEY，视频由内置模拟器生成（画面标有 SIMULATED）。"
        "设置 COMETAPI_KEY 即可真正使用 Kling Avatar。**",
    ),
    "portrait": ("Portrait (a face, at least 300×300 px)", "人像（一张脸，至少 300×300 像素）"),
    "portrait_url": ("…or a portrait URL", "……或人像图片网址"),
    "voice_from": ("Voice from", "声音来源"),
    "source_file": ("File or recording", "文件或录音"),
    "source_url": ("Audio URL", "音频网址"),
    "source_tts": ("Text to speech", "文字转语音"),
    "source_audio_id": ("Audio id", "音频 ID"),
    "voice": ("Voice (2 to 60 s)", "声音（2 到 60 秒）"),
    "voice_url": ("Voice URL", "声音网址"),
    "tts_text": (
        "Text to speak (Kling text to speech, up to 1000 characters)",
        "要朗读的文字（Kling 文字转语音，最多 1000 字）",
    ),
    "tts_voice": ("Voice", "音色"),
    "tts_speed": ("Speed", "语速"),
    "make_speech": ("Make speech", "生成语音"),
    "speech_preview": ("Speech preview", "语音试听"),
    "audio_id": ("Audio id (from Kling text to speech)", "音频 ID（来自 Kling 文字转语音）"),
    "prior_task_id": (
        "Task id the audio belongs to (if the provider needs the link)",
        "该音频所属的任务 ID（服务商需要关联时填写）",
    ),
    "trim": ("Trim voice clips longer than 60 s", "声音超过 60 秒时自动截断"),
    "prompt": ("Prompt (how the avatar should perform)", "提示词（数字人的表现方式）"),
    "chars": ("characters", "个字符"),
    "chars_empty": (
        "characters (empty: a default prompt is sent)",
        "个字符（留空：将发送默认提示词）",
    ),
    "chars_too_long": ("characters ❌ too long", "个字符 ❌ 太长"),
    "mode": ("Mode", "模式"),
    "mode_std": ("Standard (std): cheaper, faster", "标准（std）：更便宜、更快"),
    "mode_pro": ("Professional (pro): finer", "专业（pro）：更精细"),
    "cost_label": ("Estimated cost, at assumed prices:", "预估费用（按假定价格）："),
    "cost_unknown": (
        "💰 Estimated cost: shown once a voice is added (its length sets the price).",
        "💰 预估费用：添加声音、得知时长后显示。",
    ),
    "generate": ("Generate", "生成"),
    "stop": ("Stop waiting", "停止等待"),
    "ready": ("Ready.", "就绪。"),
    "result": ("Talking avatar", "数字人视频"),
    "lookup": ("Look up a task id", "按任务 ID 查询"),
    "task_id": ("Task id", "任务 ID"),
    "follow": ("Follow this task", "跟进此任务"),
    "own_key": ("Use your own CometAPI key", "使用你自己的 CometAPI 密钥"),
    "key_box": (
        "CometAPI key (kept only in this browser session; never stored)",
        "CometAPI 密钥（只保存在本浏览器会话中，从不存储）",
    ),
    "use_key": ("Use this key", "使用此密钥"),
    "forget_key": ("Forget it", "忘记密钥"),
    "key_used": ("🔑 This browser session now uses your key.", "🔑 本浏览器会话现在使用你的密钥。"),
    # followed by the reason the key could not be checked, and a closing parenthesis
    "key_used_unchecked": (
        "🔑 This browser session now uses your key (not checked just now:",
        "🔑 本浏览器会话现在使用你的密钥（刚才未能验证：",
    ),
    "key_forgotten": ("Key forgotten.", "密钥已忘记。"),
    "speech_made": (
        "✅ Speech made: its audio id is filled in below.",
        "✅ 语音已生成：其音频 ID 已填入下方。",
    ),
    "example": (
        "Try the example (public-domain portrait, made-here speech)",
        "试试示例（公有领域人像，本项目自制语音）",
    ),
    "history": ("History", "历史记录"),
    "history_refresh": ("Refresh history", "刷新历史记录"),
    "history_video": ("Selected job", "所选任务"),
    "need_portrait": (
        "Add a portrait first: upload, webcam, paste, or an image URL.",
        "请先添加人像：上传、摄像头、粘贴或图片网址。",
    ),
    "need_task_id": ("Type a task id first.", "请先输入任务 ID。"),
    "stopped": (
        "Stopped waiting. The task goes on at the provider: find it in History or look its "
        "id up later.",
        "已停止等待。任务仍在服务商处继续：可在历史记录中找到它，或稍后按任务 ID 查询。",
    ),
}

EN = {key: text[0] for key, text in TEXT.items()}
ZH = {key: text[1] for key, text in TEXT.items()}
I18N = gr.I18n(en=EN, zh=ZH)


def t(key: str) -> gr.i18n.I18nData:
    """The translatable text `key` (a KeyError for a key that has no text)."""
    if key not in TEXT:
        raise KeyError(f"no interface text for {key!r}")
    return I18N(key)


_MARKER = re.compile(r"__i18n__(\{[^}]*\})")


def translate(text: str, language: str = "en") -> str:
    """`text` as a browser in `language` shows it: its first `t(key)` replaced by that
    key's text, as Gradio's page does (for tests and anything rendered outside a page)."""
    found = _MARKER.search(text)
    if found is None:
        return text
    key = json.loads(found.group(1))["key"]
    words = {"en": EN, "zh": ZH}[language][key]
    return text[: found.start()] + words + text[found.end() :]
