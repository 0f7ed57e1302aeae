"""What people use: the command line (cli.py), and the Streamlit app's pages and components
(app.py at the top draws them from pages/), with an event's serving (event.py, serving.py) and
the pictures drawn for results (gallery.py).
"""
