Attribute VB_Name = "otbill"
' Ribbon callbacks of the otbill add-in. Thin: each button's callback runs a public macro, which runs
' the matching Python action on the workbook the user has open (xlwings RunPython); all logic lives in
' the otbill_xl package. `otbill excel selftest` runs the same macros through Application.Run with a
' selftest file, which answers the dialogs and collects the messages instead of showing them.
Option Explicit

Sub OtbillCheckCharges(control As IRibbonControl)
    CheckCharges
End Sub

Sub OtbillPriceCharges(control As IRibbonControl)
    PriceCharges
End Sub

Sub OtbillCreateClaims(control As IRibbonControl)
    CreateClaims
End Sub

Sub OtbillReconcilePayments(control As IRibbonControl)
    ReconcilePayments
End Sub

Sub OtbillImportFeeSchedule(control As IRibbonControl)
    ImportFeeSchedule
End Sub

Sub OtbillNewPracticeWorkbook(control As IRibbonControl)
    NewPracticeWorkbook
End Sub

Sub OtbillShowFindings(control As IRibbonControl)
    ShowFindings
End Sub

Sub OtbillHelp(control As IRibbonControl)
    ShowHelp
End Sub

Public Sub CheckCharges(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.check_charges_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub PriceCharges(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.price_charges_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub CreateClaims(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.create_claims_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub ReconcilePayments(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.reconcile_payments_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub ImportFeeSchedule(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.import_fee_schedule_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub NewPracticeWorkbook(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.new_practice_workbook_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub ShowFindings(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.show_findings_button(" & SelftestArg(selftest) & ")"
End Sub

Public Sub ShowHelp(Optional selftest As String = "")
    RunPython "import otbill_xl.excel.macros as m; m.help_button(" & SelftestArg(selftest) & ")"
End Sub

' The selftest file as a Python keyword argument: forward slashes (no backslash escapes in the literal),
' quotes dropped; nothing for a button press.
Private Function SelftestArg(selftest As String) As String
    If selftest = "" Then
        SelftestArg = ""
    Else
        SelftestArg = "selftest='" & Replace(Replace(selftest, "\", "/"), "'", "") & "'"
    End If
End Function
