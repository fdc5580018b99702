"""Imports of tabular files: the kinds registry, the all-or-nothing engine, templates and background jobs.

Apps declare kinds in their own `importing` module (see `registry`); the engine, the job runner,
the 导入 page, the API and `pharmacrm import` are shared by all of them.
"""
