"""The page's look and its accessibility script: what `launch()` takes besides the server."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from ui.texts import I18N, ui_text

CSS = """
#intro h1 {font-size: 1.45em; margin: 0 0 2px 0}
#intro, #demo_banner, #storage_banner {padding: 0 !important; min-height: 0 !important}
#input_column, #output_column, #face_and_voice > .column {gap: 10px}
#voice_source label {padding: 4px 8px !important}
#voice .waveform-container, #voice .timestamps,
#tts_preview .waveform-container, #tts_preview .timestamps {display: none !important}
#voice .component-wrapper {padding: 0 !important}
#intro p {margin: 0; opacity: 0.85}
#demo_banner blockquote, #storage_banner blockquote {margin: 0 !important; padding: 4px 10px}
#status {min-height: 2.2em}
#status p {margin: 0.1em 0; font-weight: 600}
.verdict p {margin: 0.2em 0}
#cost p {margin: 0.1em 0}
/* compact upload areas: the whole path fits one laptop screen */
#voice button.upload-container, #portrait button.upload-container {min-height: 0 !important}
#voice button.upload-container {height: 92px !important}
#voice .upload-container .wrap, #portrait .upload-container .wrap {
    min-height: 0 !important; height: auto !important; padding: 2px !important;
}
#voice .or, #portrait .or, #result .or {display: none}
/* the voice box's label sits where the big upload icon was: the words alone, under it */
#voice .upload-container .icon-wrap {display: none}
#voice .upload-container .wrap {padding-top: 24px !important}
#simulated_badge {padding: 0 !important; min-height: 0 !important}
#refused_upload {display: none !important}  /* the script's messenger (handlers.refused_portrait) */
#simulated_badge p {  /* above the video, never over the stamp the video carries */
    display: inline-block; margin: 0; padding: 2px 10px; border-radius: 6px;
    background: rgba(190, 30, 45, 0.9); color: white; font-weight: 700; letter-spacing: 0.05em;
}
#tts_voice ul.options {max-height: 40vh !important}
/* the players' controls stay in sight (Gradio shows them on hover only: none on a phone) */
#result .controls, #history_video .controls {opacity: 1 !important}
/* History: each caption under its picture, wrapped, never over it or out of it */
#history .thumbnail-item {
    aspect-ratio: auto !important; height: auto !important;
    display: flex !important; flex-direction: column; align-items: stretch;
}
#history .thumbnail-item img, #history .thumbnail-item video {
    aspect-ratio: 1 / 1; width: 100% !important; height: auto !important; object-fit: cover;
}
#history .caption-label {
    position: static !important; max-width: none !important; white-space: normal !important;
    overflow-wrap: anywhere; border: 0 !important; border-radius: 0 !important;
    font-size: 0.8em; line-height: 1.3; opacity: 1 !important;
}
#history .grid-wrap.fixed-height {min-height: 0 !important}  /* a few jobs, no blank screen */
button:focus-visible, input:focus-visible, textarea:focus-visible {
    outline: 3px solid #4f46e5; outline-offset: 2px;
}
@media (min-width: 769px) {  /* side by side: the status and the video stay in view */
    #output_column {position: sticky; top: 12px; align-self: flex-start}
}
.gradio-container {overflow: clip !important}  /* "hidden" would stop the sticking */
@media (max-width: 480px) {  /* a phone: Generate in the first screen, the video under it */
    .gradio-container {padding: 4px 6px !important}
    #result video {max-height: 60vh}
    #intro h1 {font-size: 1.25em}
    #portrait .image-container, #portrait button.upload-container {
        height: 170px !important; max-height: 170px !important;
    }
    #portrait {height: auto !important}
    #voice_source .wrap {gap: 6px}
    /* Gradio's four columns of at least 100 px scrolled sideways here, with no sign */
    #history .grid-container {grid-template-columns: repeat(2, minmax(0, 1fr)) !important}
}
"""
# Screen readers announce the status and the verdicts as they change (Gradio renders the
# page itself, so the attributes are set once its elements exist); a new video is scrolled
# into view once, when it is not on screen already.
A11Y_JS = r"""
() => {
    const live = {status: "status", portrait_verdict: null, voice_verdict: null, cost: null};
    const mark = () => {
        for (const [id, role] of Object.entries(live)) {
            const element = document.getElementById(id);
            if (!element || element.getAttribute("aria-live")) continue;
            element.setAttribute("aria-live", "polite");
            element.setAttribute("aria-atomic", "true");
            if (role) element.setAttribute("role", role);
        }
    };
    // A finished video, or one chosen in History, is brought into view once (on a phone
    // the result is under Generate; History's player opens under its pictures).
    const shownVideos = {};
    const bringVideo = (id) => {
        const video = document.querySelector(`#${id} video`);
        const source = video && video.getAttribute("src");
        if (!source || source === shownVideos[id]) return;
        shownVideos[id] = source;
        const box = video.getBoundingClientRect();
        const seen = box.top >= 0 && box.top + box.height / 2 <= window.innerHeight;
        if (!seen) video.scrollIntoView({block: "center", behavior: "smooth"});
    };
    // Pressing Generate on a phone: the status (and Stop) come into view, under the button.
    document.addEventListener("click", (event) => {
        if (!event.target.closest || !event.target.closest("#generate")) return;
        setTimeout(() => {
            const status = document.getElementById("status");
            if (!status) return;
            const box = status.getBoundingClientRect();
            if (box.bottom > window.innerHeight || box.top < 0) {
                status.scrollIntoView({block: "center", behavior: "smooth"});
            }
        }, 300);
    }, true);
    // A sentence's link to History (Stop's, a reload's): History opened, if it is not,
    // and brought into view in this page (not a new tab, as Gradio opens links).
    document.addEventListener("click", (event) => {
        const link = event.target.closest && event.target.closest('a[href="#history_panel"]');
        if (!link) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        const panel = document.getElementById("history_panel");
        if (!panel) return;
        const toggle = panel.querySelector("button.label-wrap");
        if (toggle && !toggle.classList.contains("open")) toggle.click();
        panel.scrollIntoView({block: "start", behavior: "smooth"});
    }, true);
    // A file that is no picture, chosen or dropped as the photo: not Gradio's own English
    // pop-up ("Invalid file type"), but the page's sentence in the visitor's language, from
    // the server (its name goes through a hidden box: handlers.refused_portrait).
    let refusals = 0;
    const refuse = (event, files) => {
        const odd = [...(files || [])].find((file) => !(file.type || "").startsWith("image/"));
        if (!odd) return;
        event.stopImmediatePropagation();
        event.preventDefault();
        if (event.target && event.target.value) event.target.value = "";
        const box = document.querySelector("#refused_upload textarea, #refused_upload input");
        if (!box) return;
        refusals += 1;
        box.value = `${odd.name}|${refusals}`;
        box.dispatchEvent(new Event("input", {bubbles: true}));
    };
    document.addEventListener("change", (event) => {
        const input = event.target;
        const photo = input.matches && input.matches("#portrait input[type=file]");
        if (photo) refuse(event, input.files);
    }, true);
    document.addEventListener("drop", (event) => {
        if (!event.target.closest || !event.target.closest("#portrait")) return;
        refuse(event, event.dataTransfer && event.dataTransfer.files);
    }, true);
    // Gradio 6.31 picks its interface language only among its own catalogues (zh-CN,
    // zh-TW...) from navigator.language: a browser asking for "zh" or "zh-HK" got the
    // page's labels and Gradio's own words in English, while the server, which reads any
    // zh-* as Chinese (catalogue.language_of), wrote its sentences in Chinese. Such a
    // browser is switched to Gradio's Chinese (its core module's changeLocale).
    const asked = ((navigator.languages || [])[0] || navigator.language || "").toLowerCase();
    if (/^zh([-_]|$)/.test(asked) && asked !== "zh-cn" && asked !== "zh-tw") {
        const named = /^zh[-_](tw|hk|mo|hant)/.test(asked) ? "zh-TW" : "zh-CN";
        const core = performance.getEntriesByType("resource").map((entry) => entry.name)
            .find((name) => /\/assets\/core-[^/]*\.js$/.test(name));
        if (core) import(core).then((module) => module.changeLocale?.(named)).catch(() => {});
    }
    // Gradio's own upload words in the voice box are chosen once, when the box is made:
    // for a Chinese reader still in English there (see above), the page's own words.
    const ownWords = __OWN_UPLOAD_WORDS__;
    const reword = () => {
        if (!/^zh([-_]|$)/.test(asked)) return;
        for (const wrap of document.querySelectorAll("#voice .upload-container .wrap")) {
            const walker = document.createTreeWalker(wrap, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const said = ownWords[node.nodeValue.trim()];
                if (said) node.nodeValue = said;
            }
        }
    };
    const watch = () => {
        mark(); reword(); bringVideo("result"); bringVideo("history_video");
    };
    watch();
    new MutationObserver(watch).observe(document.body, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["src"],
    });
}
"""


# Gradio's English upload words -> the page's Chinese (the script's `ownWords`).
OWN_UPLOAD_WORDS = {
    "Drop Audio Here": ui_text("upload_drop_audio", "zh"),
    "Click to Upload": ui_text("upload_click", "zh"),
}
PAGE_JS = A11Y_JS.replace("__OWN_UPLOAD_WORDS__", json.dumps(OWN_UPLOAD_WORDS, ensure_ascii=False))


def page_options() -> dict[str, Any]:
    """`launch()`'s options for the page itself: style, scripts, languages, theme. The
    footer keeps "Use via API or MCP" and Gradio's credit, not Gradio's Settings panel (a
    tester opened it: its words about progressive web apps and a "Screen Studio", in
    English on the Chinese page, and a "Run history (0)" beside the page's own History)."""
    return {
        "css": CSS, "js": PAGE_JS, "i18n": I18N, "theme": gr.themes.Soft(), "ssr_mode": False,
        "footer_links": ["api", "gradio"],
    }  # fmt: skip
