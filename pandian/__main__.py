from pandian.cli import entry

entry()
