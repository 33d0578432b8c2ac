"""`colorbench study report DB`: Table 2 (TPI, QS, CS, time per image; mean ± 95 % CI) and Table 6 (Top-1/Top-2
ranking shares) from a study database, as Markdown, CSV and a PNG figure.

Definitions (paper Table 2, supplement E.1), over the finished sessions of the plan (practice never counts):
TPI = seconds from the previous result (or the sketch) being painted on the page to the participant's next
hint, as the page's clock measured it, used only where it lies inside the server's own interval for that hint
(`interaction_seconds`); total time per image = seconds from the sketch to the Finish click; rating time =
Finish click to the submitted scores; QS / CS = the participant's 1-5 scores. Abandoned sessions are counted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy.engine import make_url

from colorbench.errors import UsageError
from colorbench.study.db import Store, database_url

T2_COLUMNS = ["dataset", "model", "participants", "images", "interactions", "tpi", "tpi_ci", "tpi_flagged", "qs",
              "qs_ci", "cs", "cs_ci", "time_per_image", "time_per_image_ci", "rating_time", "rating_time_ci",
              "abandoned", "practice"]
CLOCK_RESOLUTION = 0.001  # s: the page sends whole milliseconds


def mean_ci(values: Any, level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the t-interval at `level`); the half-width is NaN for fewer than 2 values."""
    v = np.asarray(pd.Series(values, dtype="float64").dropna())
    if len(v) == 0:
        return math.nan, math.nan
    if len(v) < 2:
        return float(v.mean()), math.nan
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(half)


def open_store(db: str) -> Store:
    """The study database for reading; a missing SQLite file is a UsageError, not a new empty database."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        raise UsageError(f"no study database at {url.database}: run `colorbench study serve --db {db}` first")
    return Store(db)


def interaction_seconds(inter: pd.DataFrame) -> pd.Series:
    """Per interaction, the TPI in seconds: the page's clock (`tpi_ms`, from the previous result painted to this
    hint given), NaN (flagged, left out of the mean) where it was not sent or lies outside the server's interval
    (`shown_at`, the previous result sent → `received_at`, this hint arrived), which contains the page's interval
    plus the network and drawing time on both sides: a value outside it is not a measurement."""
    server = inter["received_at"] - inter["shown_at"]
    client = pd.to_numeric(inter["tpi_ms"], errors="coerce") / 1000.0
    usable = client.notna() & (client > 0) & (client <= server + CLOCK_RESOLUTION)
    return client.where(usable)


def table2(data: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """One row per (dataset, model) with the columns `T2_COLUMNS`."""
    sessions = pd.DataFrame(data["sessions"], columns=["id", "participant_id", "practice", "model", "dataset",
                                                       "status", "started_at", "stopped_at", "finished_at", "qs",
                                                       "cs"])
    inter = pd.DataFrame(data["interactions"], columns=["session_id", "seq", "shown_at", "received_at", "tpi_ms"])
    practice = sessions["practice"].astype(bool)
    rows = []
    for (dataset, model), group in sessions[~practice].groupby(["dataset", "model"], sort=True):
        done = group[group["status"] == "finished"]
        its = inter[inter["session_id"].isin(set(done["id"]))]
        seconds = interaction_seconds(its)
        tpi = mean_ci(seconds)
        qs, cs = mean_ci(done["qs"]), mean_ci(done["cs"])
        total = mean_ci(done["stopped_at"] - done["started_at"])
        rating = mean_ci(done["finished_at"] - done["stopped_at"])
        n_practice = int((practice & (sessions["dataset"] == dataset) & (sessions["model"] == model)).sum())
        rows.append({"dataset": dataset, "model": model, "participants": done["participant_id"].nunique(),
                     "images": len(done), "interactions": len(its), "tpi": tpi[0], "tpi_ci": tpi[1],
                     "tpi_flagged": int(seconds.isna().sum()), "qs": qs[0], "qs_ci": qs[1], "cs": cs[0],
                     "cs_ci": cs[1], "time_per_image": total[0], "time_per_image_ci": total[1],
                     "rating_time": rating[0], "rating_time_ci": rating[1],
                     "abandoned": int((group["status"] == "abandoned").sum()), "practice": n_practice})
    return pd.DataFrame(rows, columns=T2_COLUMNS)


def table6(data: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """One row per (dataset, model): ranked tasks, Top-1 % and Top-2 % (share of tasks ranked within the top k);
    practice rankings are left out."""
    ranked = [t for t in data["rank_tasks"] if t.get("ranking") and not t.get("practice")]
    rows = []
    for t in ranked:
        order = json.loads(t["ranking"])
        rows += [{"dataset": t["dataset"], "model": m, "place": order.index(m) + 1} for m in order]
    frame = pd.DataFrame(rows, columns=["dataset", "model", "place"])
    out = frame.groupby(["dataset", "model"], sort=True)["place"].agg(
        tasks="size", top1=lambda p: 100.0 * (p <= 1).mean(), top2=lambda p: 100.0 * (p <= 2).mean())
    return out.reset_index()


def _pm(mean: float, ci: float, digits: int = 2) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(ci) else f"{mean:.{digits}f} ± {ci:.{digits}f}"


def markdown2(t2: pd.DataFrame) -> str:
    lines = [("| dataset | model | participants | images | interactions | TPI (s) ↓ | QS ↑ | CS ↑ "
              "| time / image (s) ↓ | rating (s) | TPI flagged | abandoned | practice (not used) |"),
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in t2.itertuples():
        lines.append(f"| {r.dataset} | {r.model} | {r.participants} | {r.images} | {r.interactions} | "
                     f"{_pm(r.tpi, r.tpi_ci)} | {_pm(r.qs, r.qs_ci)} | {_pm(r.cs, r.cs_ci)} | "
                     f"{_pm(r.time_per_image, r.time_per_image_ci, 1)} | {_pm(r.rating_time, r.rating_time_ci, 1)} | "
                     f"{r.tpi_flagged} | {r.abandoned} | {r.practice} |")
    return "\n".join(lines) + ("\n\nMean ± half-width of the 95 % t-interval over interactions (TPI) or images. "
                               "TPI: previous result painted → next hint, by the page's clock; flagged values "
                               "(outside the server's interval) are left out.\n")


def markdown6(t6: pd.DataFrame) -> str:
    lines = ["| dataset | model | ranked tasks | Top-1 (%) ↑ | Top-2 (%) ↑ |", "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r.dataset} | {r.model} | {r.tasks} | {r.top1:.1f} | {r.top2:.1f} |" for r in t6.itertuples()]
    return "\n".join(lines) + "\n"


def figure(t2: pd.DataFrame, path: Path) -> None:
    """Bars with 95 % CI whiskers: TPI, time per image, rating time, QS and CS per model (one group per dataset)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("tpi", "TPI (s) ↓"), ("time_per_image", "time per image (s) ↓"), ("rating_time", "rating time (s)"),
              ("qs", "QS (1-5) ↑"), ("cs", "CS (1-5) ↑")]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 3.0), constrained_layout=True)
    labels = [f"{r.model}\n{r.dataset}" if t2["dataset"].nunique() > 1 else r.model for r in t2.itertuples()]
    for ax, (col, title) in zip(axes, panels):
        err = t2[f"{col}_ci"].fillna(0).to_numpy()
        ax.bar(range(len(t2)), t2[col].fillna(0).to_numpy(), yerr=err, capsize=4,
               color=[f"C{i}" for i in range(len(t2))])
        ax.set_xticks(range(len(t2)), labels)
        ax.set_title(title)
        ax.set_ylim(0, 5.5) if col in ("qs", "cs") else ax.set_ylim(bottom=0)  # times and scores are never < 0
    fig.suptitle("Human study (paper Table 2)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(db: str, out: Path) -> dict[str, Any]:
    """Tables 2 and 6 from `db` into `out` (table2.md/.csv/.png, table6.md/.csv) → {"table2": md, "table6": md}."""
    store = open_store(db)
    try:
        data = store.frames()
    finally:
        store.close()
    if not data["sessions"] and not data["rank_tasks"]:
        raise UsageError(f"the study database {db} holds no sessions yet")
    out.mkdir(parents=True, exist_ok=True)
    t2, t6 = table2(data), table6(data)
    md2, md6 = markdown2(t2), markdown6(t6)
    t2.to_csv(out / "table2.csv", index=False)
    (out / "table2.md").write_text("# Human study: Table 2\n\n" + md2)
    if len(t2):
        figure(t2, out / "table2.png")
    t6.to_csv(out / "table6.csv", index=False)
    (out / "table6.md").write_text("# Ranking study: Table 6\n\n" + (md6 if len(t6) else "No rankings yet.\n"))
    return {"table2": md2, "table6": md6 if len(t6) else ""}
