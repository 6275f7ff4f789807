"""The workbook layer: the practice-workbook contract, the workbook port and its adapters."""
