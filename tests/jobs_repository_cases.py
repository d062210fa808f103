"""Repository behaviour checked against SQLite (unit) and PostgreSQL (integration)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.jobs_tools import finish_all, new_project
from voxserve.jobs.store.models import ProjectState, SegmentState
from voxserve.jobs.store.records import SegmentResult
from voxserve.jobs.store.repository import JobRepository
from voxserve.text.documents import Chapter, Document, Paragraph


def check_create_is_complete_and_ordered(repository: JobRepository) -> None:
    project = repository.create_project(new_project())
    assert project.state is ProjectState.QUEUED
    assert project.title == "A small book"
    assert [c.title for c in project.chapters] == ["The first chapter", "The second chapter"]
    segments = repository.segments(project.id)
    assert [s.index for s in segments] == list(range(project.segment_count))
    assert [(s.chapter_index, s.paragraph_index, s.segment_index) for s in segments] == [
        (0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0), (1, 0, 1)]
    assert all(s.state is SegmentState.PENDING for s in segments)
    assert repository.pending_tasks(project.id) == [
        (project.id, i, chapter) for i, chapter in enumerate([0, 0, 0, 1, 1])]


def check_create_is_atomic(repository: JobRepository) -> None:
    # the last segment violates NOT NULL: project and chapters must not stay behind
    broken = Document("broken", (
        Chapter("one", (Paragraph(("Fine.",)),)),
        Chapter("two", (Paragraph(("Fine too.", None)),)),  # type: ignore[arg-type]
    ))
    before = len(repository.list_projects(limit=1000, owner="atomic").items)
    with pytest.raises(Exception):  # noqa: B017 - any database error
        repository.create_project(new_project(document=broken, owner="atomic"))
    assert len(repository.list_projects(limit=1000, owner="atomic").items) == before == 0


def check_record_is_idempotent(repository: JobRepository) -> None:
    project = repository.create_project(new_project())
    assert repository.record_segment(project.id, 1, "a/1", 0.5) is True
    assert repository.record_segment(project.id, 1, "b/1", 9.0) is False
    segment = repository.segment(project.id, 1)
    assert segment is not None and segment.audio_key == "a/1" and segment.duration_s == 0.5
    progress = repository.progress(project.id)
    assert [(c.segments_done, c.segments_total) for c in progress.chapters] == [(1, 3), (0, 2)]
    assert progress.audio_s == 0.5
    assert repository.pending_count(project.id) == 4
    # concurrent recorders of the same segment: exactly one wins
    barrier = threading.Barrier(8)

    def record(n: int) -> bool:
        barrier.wait()
        return repository.record_segment(project.id, 3, f"c/{n}", 1.0)

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(record, range(8))) == 1


def check_finalization_claimed_once(repository: JobRepository) -> None:
    project = repository.create_project(new_project())
    assert repository.claim_finalization(project.id) is False  # segments pending
    finish_all(repository, project.id)
    barrier = threading.Barrier(6)

    def claim(_: int) -> bool:
        barrier.wait()
        return repository.claim_finalization(project.id)

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(claim, range(6))) == 1
    assert repository.claim_finalization(project.id, stale_after_s=0.0) is True  # takeover
    assert repository.complete(project.id, {"book": "book.wav"})
    assert repository.claim_finalization(project.id, stale_after_s=0.0) is False
    done = repository.get_project(project.id)
    assert done is not None and done.state is ProjectState.COMPLETED
    assert done.files == {"book": "book.wav"}
    assert repository.cancel(project.id) is False


def check_start_and_finish_segments(repository: JobRepository) -> None:
    project = repository.create_project(new_project())
    started = repository.start_segments(project.id, 3)
    assert started is not None
    running, [segment] = started
    assert running.state is ProjectState.RUNNING and running.started_at is not None
    assert segment.index == 3 and segment.chapter_index == 1 and segment.attempts == 1
    assert segment.text == "Short chapter text."
    again = repository.start_segments(project.id, 3)
    assert again is not None and again[1][0].attempts == 2  # a second delivery counts
    assert repository.finish_segments(project.id, [SegmentResult(3, "k/3", 1.5)]) == {
        0: 3, 1: 1}
    # a redelivered task finds the segment done: no attempt counted, nothing re-recorded
    done = repository.start_segments(project.id, 3)
    assert done is not None and done[1][0].state is SegmentState.DONE
    assert done[1][0].attempts == 2
    assert repository.finish_segments(project.id, [SegmentResult(3, "other", 9.0)]) == {
        0: 3, 1: 1}
    segment_now = repository.segment(project.id, 3)
    assert segment_now is not None and segment_now.audio_key == "k/3"
    assert repository.start_segments(project.id, 99) is None
    assert repository.start_segments("no-such-project", 0) is None
    assert repository.cancel(project.id)
    canceled = repository.start_segments(project.id, 0)
    assert canceled is not None and canceled[0].state is ProjectState.CANCELED
    assert canceled[1][0].attempts == 0  # no attempt counted for a finished project


def check_a_task_of_several_segments(repository: JobRepository) -> None:
    """Segments 1-4 (across both chapters; the range runs past the end): started together
    in order, attempts counted on the pending ones only, recorded in one statement."""
    project = repository.create_project(new_project())
    repository.record_segment(project.id, 2, "k/2", 1.0)  # done by an earlier task
    started = repository.start_segments(project.id, 1, 6)
    assert started is not None
    segments = started[1]
    assert [s.index for s in segments] == [1, 2, 3, 4]
    assert [s.attempts for s in segments] == [1, 0, 1, 1]
    pending = repository.finish_segments(
        project.id, [SegmentResult(i, f"k/{i}", 0.5 * i) for i in (4, 1, 3)])
    assert pending == {0: 1}  # only segment 0 is left
    recorded = {s.index: (s.state, s.audio_key, s.duration_s)
                for s in repository.segments(project.id)}
    assert recorded == {
        0: (SegmentState.PENDING, None, None), 1: (SegmentState.DONE, "k/1", 0.5),
        2: (SegmentState.DONE, "k/2", 1.0), 3: (SegmentState.DONE, "k/3", 1.5),
        4: (SegmentState.DONE, "k/4", 2.0)}
    assert repository.pending_by_chapter(project.id) == {0: 1}
    assert repository.finish_segments(project.id, []) == {0: 1}


def check_chapter_claimed_once_its_segments_are_done(repository: JobRepository) -> None:
    project = repository.create_project(new_project())  # chapters of 3 and 2 segments
    assert repository.pending_by_chapter(project.id) == {0: 3, 1: 2}
    repository.record_segment(project.id, 3, "k/3", 1.0)
    assert repository.claim_chapter(project.id, 1) is False  # segment 4 is pending
    repository.record_segment(project.id, 4, "k/4", 1.0)
    assert repository.pending_by_chapter(project.id) == {0: 3}
    assert repository.segments(project.id, 1) == [
        s for s in repository.segments(project.id) if s.chapter_index == 1]
    barrier = threading.Barrier(6)

    def claim(_: int) -> bool:
        barrier.wait()
        return repository.claim_chapter(project.id, 1)

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(claim, range(6))) == 1
    assert repository.claim_chapter(project.id, 0) is False  # still pending
    repository.release_chapter(project.id, 1)  # the assembler failed: claimable again
    assert repository.claim_chapter(project.id, 1) is True
    assert repository.claim_chapter(project.id, 1, stale_after_s=0.0) is True  # takeover
    repository.chapter_assembled(project.id, 1)
    assert repository.claim_chapter(project.id, 1, stale_after_s=0.0) is False  # done
    loaded = repository.get_project(project.id)
    assert loaded is not None
    assert [c.assembled for c in loaded.chapters] == [False, True]
    # a canceled project's chapters are not assembled
    for index in range(3):
        repository.record_segment(project.id, index, f"k/{index}", 1.0)
    assert repository.cancel(project.id) is True
    assert repository.claim_chapter(project.id, 0) is False


def check_pagination_and_delete(repository: JobRepository) -> None:
    owner = "pager"
    ids = [repository.create_project(new_project(owner=owner)).id for _ in range(5)]
    first = repository.list_projects(limit=2, owner=owner)
    second = repository.list_projects(limit=2, owner=owner, after=first.next_cursor)
    third = repository.list_projects(limit=2, owner=owner, after=second.next_cursor)
    listed = [p.id for page in (first, second, third) for p in page.items]
    assert listed == list(reversed(ids))
    assert third.next_cursor is None
    assert repository.cancel(ids[0]) is True
    canceled = repository.get_project(ids[0])
    assert canceled is not None and canceled.state is ProjectState.CANCELED
    assert repository.pending_tasks(ids[0]) == []
    repository.record_segment(ids[1], 0, "projects/x/segments/000000.pcm", 1.0)
    assert repository.delete(ids[1]) == ["projects/x/segments/000000.pcm"]
    assert repository.get_project(ids[1]) is None
    assert repository.segments(ids[1]) == []
    assert repository.delete(ids[1]) is None


def check_segments_keep_their_words(repository: JobRepository) -> None:
    project = repository.create_project(new_project())
    words = '[{"word": "Short", "start_s": 0.1, "end_s": 0.4, "estimated": false}]'
    # a batch where only some segments have words: the others stay NULL
    repository.finish_segments(project.id, [SegmentResult(3, "k/3", 1.5, words),
                                            SegmentResult(2, "k/2", 1.0)])
    with_words, without = repository.segment(project.id, 3), repository.segment(project.id, 2)
    assert with_words is not None and with_words.words == words
    assert without is not None and without.words is None and without.audio_key == "k/2"
    assert repository.segments(project.id)[3].words == words


ALL_CASES = [
    check_create_is_complete_and_ordered,
    check_create_is_atomic,
    check_record_is_idempotent,
    check_finalization_claimed_once,
    check_start_and_finish_segments,
    check_a_task_of_several_segments,
    check_chapter_claimed_once_its_segments_are_done,
    check_pagination_and_delete,
    check_segments_keep_their_words,
]
