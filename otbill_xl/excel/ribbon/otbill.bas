Attribute VB_Name = "otbill"
' Ribbon callbacks of the otbill add-in. Thin: each one runs the matching Python action on the
' workbook the user has open (xlwings RunPython); all logic lives in the otbill_xl package.
Option Explicit

Sub OtbillCheckCharges(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.check_charges_button()"
End Sub

Sub OtbillPriceCharges(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.price_charges_button()"
End Sub

Sub OtbillCreateClaims(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.create_claims_button()"
End Sub

Sub OtbillReconcilePayments(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.reconcile_payments_button()"
End Sub

Sub OtbillImportFeeSchedule(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.import_fee_schedule_button()"
End Sub

Sub OtbillNewPracticeWorkbook(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.new_practice_workbook_button()"
End Sub

Sub OtbillShowFindings(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.show_findings_button()"
End Sub

Sub OtbillHelp(control As IRibbonControl)
    RunPython "import otbill_xl.excel.macros as m; m.help_button()"
End Sub
