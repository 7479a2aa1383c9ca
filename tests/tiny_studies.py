"""Small study files shared by the tests of runs through the command line."""

#: A 3-unit echo study (N = 6, one p-bit pulse, 4 times) that runs in about a second per unit.
TINY = """
[study]
name = "tiny"
kind = "echo"
realizations = 3
seed = 3

[model]
n = 6
W = 8.0

[protocol]
pulses = ["pbit"]

[times]
start = 0.1
stop = 10.0
num = 4
"""
