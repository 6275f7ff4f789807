from otbill_xl.cli import main

main()
