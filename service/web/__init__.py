"""The web pages: the public finder map, the regulators' dashboard and the operators' page,
served with their bundled assets (sources and build in `frontend/`)."""
