"""Exports of filtered lists to xlsx or CSV: only rows the user may see, formula-escaped, streamed, logged.

Apps declare what can be exported in their own `exporting` module (found like import kinds);
the page button, the download view, the API and the export log are shared.
"""
