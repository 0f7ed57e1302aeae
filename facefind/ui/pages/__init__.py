"""The Streamlit app's pages and components, one job each; app.py at the top only draws them."""
