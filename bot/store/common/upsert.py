"""The bookkeeping of a paper upsert, the same on every backend: which papers are new, which
merge into a stored row and change it, and what the result reports."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from bot.models import Paper, UpsertResult, feed_relevant_change, merge_papers, without_nul


def merge_batch(papers: Iterable[Paper]) -> dict[str, Paper]:
    """The papers of one upsert by id; the same paper twice in one batch merges first.

    Every write of papers, on either backend, starts here, so this is where NUL characters
    go (`without_nul`): both stores keep, compare and index the same text.
    """
    batch: dict[str, Paper] = {}
    for paper in map(without_nul, papers):
        batch[paper.id] = merge_papers(batch[paper.id], paper) if paper.id in batch else paper
    return batch


@dataclass
class UpsertPlan:
    """What to write for one batch, in batch order: ("i", paper) inserts, ("u", merged) updates."""

    staged: list[tuple[str, Paper]] = field(default_factory=list)
    recategorised: list[str] = field(default_factory=list)
    retexted: list[str] = field(default_factory=list)  # title or abstract changed: vector stale
    new_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    changed_ids: list[str] = field(default_factory=list)
    unchanged: int = 0

    def result(self, inserted: Container[str] | None = None) -> UpsertResult:
        """The report; a paper not among `inserted` (if given) was inserted by someone else
        first, kept its row, and counts as unchanged rather than new."""
        new = tuple(i for i in self.new_ids if inserted is None or i in inserted)
        return UpsertResult(
            new=new,
            updated=tuple(self.updated_ids),
            unchanged=self.unchanged + len(self.new_ids) - len(new),
            changed=tuple(self.changed_ids),
        )


def plan_upsert(batch: Mapping[str, Paper], existing: Mapping[str, Paper]) -> UpsertPlan:
    """Merge each incoming paper into its stored row (if any) and sort out what changed."""
    plan = UpsertPlan()
    for paper_id, incoming in batch.items():
        old = existing.get(paper_id)
        if old is None:
            plan.staged.append(("i", incoming))
            plan.new_ids.append(paper_id)
            continue
        merged = merge_papers(old, incoming)
        if merged == old:
            plan.unchanged += 1
            continue
        plan.staged.append(("u", merged))
        plan.changed_ids.append(paper_id)
        if merged.categories != old.categories:
            plan.recategorised.append(paper_id)
        if (merged.title, merged.abstract) != (old.title, old.abstract):
            plan.retexted.append(paper_id)
        if feed_relevant_change(old, merged):
            plan.updated_ids.append(paper_id)
    return plan
