"""Open endpoints for finder apps: nearest accessible cabin, the map window (GeoJSON) and OGC
API Features (Parts 1, 2 and 3) over the active cabins. No key; only public fields."""
