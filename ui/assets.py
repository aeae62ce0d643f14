"""The page's look and its accessibility script: what `launch()` takes besides the server."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ui.texts import I18N

CSS = """
#status {min-height: 3em}
.verdict p {margin: 0.2em 0}
#cost p {margin: 0.2em 0}
button:focus-visible, input:focus-visible, textarea:focus-visible {
    outline: 3px solid #4f46e5; outline-offset: 2px;
}
@media (min-width: 769px) {  /* side by side: the status and the video stay in view */
    #output_column {position: sticky; top: 12px; align-self: flex-start}
}
.gradio-container {overflow: clip !important}  /* "hidden" would stop the sticking */
@media (max-width: 480px) {
    .gradio-container {padding-left: 6px !important; padding-right: 6px !important}
    #result video {max-height: 60vh}
}
"""
# Screen readers announce the status and the verdicts as they change (Gradio renders the
# page itself, so the attributes are set once its elements exist).
A11Y_JS = """
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
    mark();
    new MutationObserver(mark).observe(document.body, {childList: true, subtree: true});
}
"""


def page_options() -> dict[str, Any]:
    """`launch()`'s options for the page itself: style, script, languages, theme."""
    return {"css": CSS, "js": A11Y_JS, "i18n": I18N, "theme": gr.themes.Soft(), "ssr_mode": False}
