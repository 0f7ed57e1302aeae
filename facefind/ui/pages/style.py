"""The page's own style sheet (`page.css`): the wrapping grids and the fitted larger view."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

STYLE_SHEET = Path(__file__).with_name("page.css")


@cache
def _style() -> str:
    """The style sheet as a style block, read once per server process."""
    return f"<style>{STYLE_SHEET.read_text(encoding='utf-8')}</style>"


def page_style() -> None:
    """Add the style sheet to this page run (Streamlit puts a style-only block out of the way,
    where it takes no room)."""
    st.html(_style())
