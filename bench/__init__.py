"""capstan's benchmarks: ``python -m bench [--quick]``.

See docs/benchmarks.md.

Not tests: nothing here asserts. Every figure is printed next to a baseline
measured in the same run on the same machine, because the machine is shared
and absolute numbers drift; the ratio is what a target is checked against.
Servers run as separate processes started here; the HTTP load comes from
wrk (or a Python client in other processes), never from capstan's own code.
"""
