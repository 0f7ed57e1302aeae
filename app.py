"""facefind's Streamlit app (placeholder until the app issue lands)."""

import streamlit as st

st.set_page_config(page_title="facefind", page_icon="🔎")
st.title("facefind")
st.write("The photo finder app is coming. Meanwhile use the command line: `python -m facefind --help`.")
