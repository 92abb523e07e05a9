"""Regulator views: compliance queries, figures by territory, exports, territorial needs."""
