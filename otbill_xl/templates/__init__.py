"""The practice-workbook template and the sample practice: :mod:`~otbill_xl.templates.build` writes
``workbook_templates/otbill-practice.xlsx`` and the sample workbook; :mod:`~otbill_xl.templates.sample`
generates the sample practice's patients, payers and charge lines (with its planted errors)."""
