"""The demo job `solvyd up` creates: the text of examples/hello.yml (a test keeps them equal)."""

DEMO_JOB_NAME = "hello"

HELLO_PIPELINE = """\
# The demo pipeline `make run` creates as the job "hello".
# Try: solvyd jobs trigger hello --follow
steps:
  - name: greet
    commands:
      - echo "Hello from Solvyd build $SOLVYD_BUILD_NUMBER of $SOLVYD_JOB_NAME"
      - uname -a
  - name: count
    commands:
      - for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.2; done
      - echo done
"""
