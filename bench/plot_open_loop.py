"""Draw benchmark 9's curves from a result file.

    python -m bench.plot_open_loop bench/results/RUN.json docs/open_loop.png

Left: create -> available latency (p50, p99, p99.9, from when each create
was due) and the rates (accepted, shed, available) against the offered
load as a share of the measured capacity, and the 150% run shed by wait
(``[api] max_create_wait``) as single points. Right: the backlog (volumes
in ``creating``) over time at each share, that run dashed.
"""
from __future__ import annotations

import json
import sys


def plot(result_path: str, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = json.load(open(result_path))["figures"]["9_open_loop"]
    runs = figures["runs"]
    shares = [100 * run["share"] for run in runs]
    fig, (latency, backlog) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, style in (("p50", "o-"), ("p99", "s-"), ("p99.9", "^-")):
        latency.plot(shares, [run["available_ms"].get(key) for run in runs],
                     style, label=f"create -> available {key}")
    tight = figures.get("wait_bound")
    if tight is not None:
        for key, marker in (("p50", "o"), ("p99", "s"), ("p99.9", "^")):
            latency.plot([100 * tight["share"]],
                         [tight["available_ms"].get(key)], marker,
                         color="black", fillstyle="none",
                         label=f"{key}, shed by wait" if key == "p50"
                         else None)
    latency.set_yscale("log")
    latency.set_xlabel(f"offered load, % of capacity "
                       f"({figures['capacity']:.0f} creates/s)")
    latency.set_ylabel("ms from when the create was due")
    rates = latency.twinx()
    for key, style in (("accepted_per_s", "g--"), ("rejected_per_s", "r--"),
                       ("available_per_s", "b:")):
        rates.plot(shares, [run[key] for run in runs], style,
                   label=key.replace("_per_s", "/s"))
    rates.set_ylabel("per second")
    lines = latency.get_legend_handles_labels()
    more = rates.get_legend_handles_labels()
    latency.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8,
                   loc="upper left")
    latency.set_title("create -> available under open-loop load")
    for run in runs:
        times = [t for t, _ in run["backlog"]]
        backlog.plot(times, [n for _, n in run["backlog"]],
                     label=f"{100 * run['share']:.0f}% "
                           f"({run['rate']:.0f}/s)")
    if tight is not None:
        backlog.plot([t for t, _ in tight["backlog"]],
                     [n for _, n in tight["backlog"]], "k--",
                     label=f"150%, shed by wait ({tight['rate']:.0f}/s)")
    backlog.axvline(figures["load_seconds"], color="grey", linestyle=":",
                    label="schedule ends")
    backlog.set_xlabel("seconds")
    backlog.set_ylabel("volumes in creating")
    backlog.set_title("backlog")
    backlog.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


if __name__ == "__main__":
    plot(sys.argv[1], sys.argv[2])
