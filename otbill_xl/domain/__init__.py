"""The billing domain: pure records and rules.

Nothing here reads files, talks to Excel or looks at the clock: dates such as "today" are
parameters, and reference tables arrive as text through :mod:`otbill_xl.refdata`.
"""
