"""Cost-derived thresholds, the review queue and the per-line report, worked by hand."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError, StateError
from forewarn.quality.decisions import DECISIONS, InspectionCosts, decide, expected_cost, line_report, thresholds
from forewarn.quality.review import ReviewQueue


def test_thresholds_minimise_the_expected_cost_at_every_probability():
    costs = InspectionCosts(scrap=8.0, review=1.0, escape=4.0)
    t = thresholds(costs)
    # pass below 1/4, reject above 1 - 1/8 = 0.875
    assert (t.review_above, t.reject_above) == (0.25, 0.875)
    for p in np.linspace(0, 1, 201):
        cost = {"pass": p * 4.0, "review": 1.0, "reject": (1 - p) * 8.0}
        assert cost[decide(float(p), t)] == pytest.approx(min(cost.values()))


def test_no_review_band_when_review_is_dear():
    t = thresholds(InspectionCosts(scrap=2.0, review=3.0, escape=6.0))
    # 3/6 = 0.5 >= 1 - 3/2: one threshold 2 / (2 + 6) = 0.25
    assert t.review_above == t.reject_above == 0.25
    assert [decide(p, t) for p in (0.2, 0.3)] == ["pass", "reject"]


def test_expected_cost_counts_each_outcome():
    costs = InspectionCosts(scrap=5.0, review=1.0, escape=2.0)
    # escaped defect 2, review 1, scrapped good unit 5, correct pass 0 -> 8 / 4
    cost = expected_cost([0.1, 0.6, 0.9, 0.1], [True, False, False, False], ["pass", "review", "reject", "pass"], costs)
    assert cost == 2.0


def test_bad_costs_and_probabilities():
    with pytest.raises(ConfigError, match="escape"):
        InspectionCosts(escape=0)
    with pytest.raises(SchemaError, match="outside"):
        decide(1.5, thresholds(InspectionCosts()))


def test_review_queue_verdicts_labels_and_report(tmp_path):
    path = tmp_path / "reviews.duckdb"
    queue = ReviewQueue(path)
    ids = [
        queue.add(line="A", unit="a1", image="a1.jpg", defect_type="scratches", probability=0.9, decision="reject"),
        queue.add(line="A", unit="a2", image="a2.jpg", defect_type="patches", probability=0.6, decision="review"),
        queue.add(line="A", unit="a3", image="a3.jpg", defect_type="", probability=0.1, decision="pass"),
        queue.add(line="B", unit="b1", image="b1.jpg", defect_type="inclusion", probability=0.7, decision="review"),
    ]
    assert [r["unit"] for r in queue.pending()] == ["a2", "b1"]
    queue.verdict(ids[1], "defect", by="ana", defect_type="scratches")
    with pytest.raises(StateError, match="not waiting"):
        queue.verdict(ids[1], "good")
    with pytest.raises(SchemaError, match="verdict"):
        queue.verdict(ids[3], "maybe")
    with pytest.raises(DataNotFoundError):
        queue.get(999)
    queue.close()
    queue = ReviewQueue(path)  # the verdict survives a restart
    assert queue.get(ids[1])["verdict"] == "defect" and queue.get(ids[1])["reviewer"] == "ana"
    assert queue.labelled()[["unit", "label"]].values.tolist() == [["a2", "scratches"]]
    report = {r["line"]: r for r in queue.report()}
    # line A: 3 units, 1 reject, 1 review, mean (0.9 + 0.6 + 0.1) / 3; Pareto: a1 and a2 are both scratches now
    assert report["A"]["units"] == 3 and report["A"]["reject_rate"] == 0.3333 and report["A"]["review_rate"] == 0.3333
    assert report["A"]["mean_probability"] == pytest.approx(0.5333, abs=1e-4)
    assert report["A"]["pareto"] == [{"defect_type": "scratches", "count": 2, "cumulative_share": 1.0}]
    assert report["B"]["pareto"] == [{"defect_type": "inclusion", "count": 1, "cumulative_share": 1.0}]
    queue.close()


def test_line_report_pareto_order_and_shares():
    frame = pd.DataFrame(
        {
            "line": ["L"] * 6,
            "probability": [0.9, 0.9, 0.9, 0.7, 0.7, 0.1],
            "decision": ["reject", "reject", "reject", "review", "review", "pass"],
            "defect_type": ["b", "a", "a", "a", "c", ""],
        }
    )
    (row,) = line_report(frame)
    assert [(p["defect_type"], p["count"], p["cumulative_share"]) for p in row["pareto"]] == [
        ("a", 3, 0.6),
        ("b", 1, 0.8),
        ("c", 1, 1.0),
    ]


def test_the_log_keeps_novelty_and_an_old_log_gains_its_columns(tmp_path):
    """A log written before the novelty score was stored opens with empty novelty columns, keeps its units, and
    stores the score and flag of the units logged after; the per-line report counts the novel ones."""
    import duckdb

    from forewarn.quality.review import DDL

    path = tmp_path / "old.duckdb"
    old_ddl = DDL.replace(",\n    novelty_score DOUBLE,\n    novel BOOLEAN", "")
    assert "novelty_score" not in old_ddl  # the table as the log before this change made it
    with duckdb.connect(str(path)) as con:
        con.execute(old_ddl)
        con.execute("INSERT INTO inspections (inspection_id, ts, line, unit, image, defect_type, probability, decision,"
                    " status) VALUES (nextval('inspection_ids'), now(), 'A', 'a0', 'a0.jpg', '', 0.1, 'pass',"
                    " 'decided')")  # fmt: skip
    queue = ReviewQueue(path)
    first = queue.inspections()[0]
    assert (first["unit"], first["novelty_score"], first["novel"]) == ("a0", None, None)
    new = queue.add(line="A", unit="a1", image="a1.jpg", defect_type="", probability=0.1, decision="review",
                    novelty_score=2.5, novel=True)  # fmt: skip
    queue.add(line="A", unit="a2", image="a2.jpg", defect_type="", probability=0.1, decision="pass",
              novelty_score=0.3, novel=False)  # fmt: skip
    assert (queue.get(new)["novelty_score"], queue.get(new)["novel"]) == (2.5, True)
    with pytest.raises(SchemaError, match="novelty score"):
        queue.add(line="A", unit="a3", image="a3.jpg", defect_type="", probability=0.1, decision="pass",
                  novelty_score=float("nan"))  # fmt: skip
    assert queue.report()[0]["novel"] == 1 and queue.report()[0]["units"] == 3
    queue.close()


def test_novelty_only_lifts_a_pass_to_review():
    from forewarn.quality.decisions import with_novelty

    assert [with_novelty(d, 3.0, 1.0) for d in DECISIONS] == [("review", True), ("review", True), ("reject", True)]
    assert [with_novelty(d, 1.0, 1.0)[0] for d in DECISIONS] == list(DECISIONS)  # at the threshold: not novel
    assert with_novelty("pass", None, 1.0) == ("pass", None)
    for bad in (-0.1, float("inf")):
        with pytest.raises(SchemaError, match="novelty score"):
            with_novelty("pass", bad, 1.0)
