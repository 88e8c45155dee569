from solvyd.cli.main import app

app(prog_name="solvyd")
