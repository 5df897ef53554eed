"""Page scripts of the explorer, run by st.navigation (see explorer/app.py).

Not a `pages/` folder on purpose: that name triggers Streamlit's older automatic page discovery.
"""
