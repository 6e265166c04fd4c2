from pandian.cli import app

app()
