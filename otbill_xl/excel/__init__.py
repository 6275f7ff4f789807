"""The Excel surface: worksheet functions (UDFs) and ribbon actions.

``udfs`` holds plain Python functions that take cell values exactly as Excel hands them over
(floats, ``None`` for blanks, ``datetime`` for dates, 1-D or 2-D lists) and work when called
directly; ``addin`` registers them with xlwings and is only imported inside Excel.
"""
