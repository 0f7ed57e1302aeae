"""The page's own style sheet (`page.css`): the wrapping grids and the fitted larger view."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

STYLE_SHEET = Path(__file__).with_name("page.css")


def page_style() -> None:
    """Add the style sheet to this page run (Streamlit puts a style-only block out of the way,
    where it takes no room)."""
    st.html(STYLE_SHEET)
