"""HTTP layer (FastAPI). Never imports model libraries; talks to the service layer only."""
