"""Segment task messages and how pending segments are cut into tasks."""

from __future__ import annotations

import pytest

from voxserve.jobs.tasks.queue import MAX_TASK_SEGMENTS, SegmentTaskMessage, segment_tasks


def test_messages_round_trip_and_old_messages_are_one_segment() -> None:
    task = SegmentTaskMessage("p1", 4, count=3)
    assert SegmentTaskMessage.from_json(task.to_json(), attempt=2) == SegmentTaskMessage(
        "p1", 4, 2, 3)
    assert task.last_index == 6 and task.describe() == "segments 4-6"
    # a one-segment task writes no count, as versions before task runs did; both read back
    assert SegmentTaskMessage("p1", 4).to_json() == b'{"project_id": "p1", "index": 4}'
    assert SegmentTaskMessage.from_json(b'{"project_id": "p1", "index": 4}').count == 1
    assert SegmentTaskMessage("p1", 4).describe() == "segment 4"


@pytest.mark.parametrize("body", [
    b'{"project_id": "p1", "index": 4, "count": 0}',
    b'{"project_id": "p1", "index": -1}',
    b'{"project_id": "p1", "index": 0, "count": %d}' % (MAX_TASK_SEGMENTS + 1),
    b'{"project_id": "p1", "index": 0, "count": "many"}',
])
def test_malformed_ranges_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        SegmentTaskMessage.from_json(body)


def test_tasks_are_runs_of_consecutive_segments_of_one_chapter() -> None:
    pending = [
        ("a", 0, 0), ("a", 1, 0), ("a", 2, 0), ("a", 3, 0), ("a", 4, 0),  # 5 in chapter 0
        ("a", 5, 1), ("a", 6, 1),                                            # chapter 1
        ("a", 8, 1),                                                         # 7 is done
        ("b", 9, 0), ("b", 10, 0),                                           # another project
    ]
    assert [(t.project_id, t.index, t.count) for t in segment_tasks(pending, 2)] == [
        ("a", 0, 2), ("a", 2, 2), ("a", 4, 1), ("a", 5, 2), ("a", 8, 1), ("b", 9, 2)]
    assert [(t.index, t.count) for t in segment_tasks(pending, 1)] == [
        (index, 1) for _, index, _ in pending]
    assert segment_tasks([], 4) == []
