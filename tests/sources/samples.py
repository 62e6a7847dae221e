"""Fixture files and small builders for upstream bodies, in the shapes the real services use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "upstream"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def hf_item(paper_id: str, title: str | None = None, **paper_fields: Any) -> dict[str, Any]:
    """A fresh daily-papers item (optional fields absent) with `paper_fields` added to `paper`."""
    title = title or f"A Study of Case {paper_id}"
    paper = {
        "id": paper_id,
        "authors": [{"_id": "6a00000000000000000000a1", "name": "Rosa Delgado", "hidden": False}],
        "publishedAt": "2026-09-17T00:00:00.000Z",
        "submittedOnDailyAt": "2026-09-18T05:00:00.000Z",
        "title": title,
        "summary": f"An abstract for {paper_id}.",
        "upvotes": 1,
        "discussionId": "6a00000000000000000000ff",
        **paper_fields,
    }
    return {
        "paper": paper,
        "publishedAt": "2026-09-16T20:00:00.000Z",
        "title": title,
        "summary": paper["summary"],
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper_id}.png",
        "numComments": 0,
        "isAuthorParticipating": False,
    }


def hf_page(first: int, count: int, month: str = "2609") -> list[dict[str, Any]]:
    """`count` items with consecutive ids from `<month>.<first>`."""
    return [hf_item(f"{month}.{number:05d}") for number in range(first, first + count)]


def hf_body(items: list[Any]) -> str:
    return json.dumps(items)


_FEED_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/generated</id>
  <title>arXiv Query: generated</title>
  <updated>2026-09-18T04:10:00Z</updated>
  <opensearch:itemsPerPage>{count}</opensearch:itemsPerPage>
  <opensearch:totalResults>{count}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
"""

_ENTRY = """  <entry>
    <id>http://arxiv.org/abs/{id}v{version}</id>
    <title>Generated Paper {id}</title>
    <updated>2026-09-17T10:00:00Z</updated>
    <summary>Abstract of {id}.</summary>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <published>2026-09-16T10:00:00Z</published>
    <arxiv:comment>generated</arxiv:comment>
    <arxiv:primary_category term="cs.CL"/>
    <author>
      <name>Rosa Delgado</name>
    </author>
  </entry>
"""


def api_feed(ids: list[str], version: int = 1) -> str:
    """A query-API answer with one entry per id (primary category cs.CL)."""
    entries = "".join(_ENTRY.format(id=i, version=version) for i in ids)
    return _FEED_HEAD.format(count=len(ids)) + entries + "</feed>\n"


_RSS_HEAD = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates on the arXiv.org e-print archive.</description>
    <language>en-us</language>
    <pubDate>Fri, 18 Sep 2026 00:00:00 -0400</pubDate>
"""

# The real description keeps a space before its line break; `space` puts it back.
_ITEM = """    <item>
      <title>Listed Paper {id}</title>
      <link>https://arxiv.org/abs/{id}</link>
      <description>arXiv:{id}v{version} Announce Type: {kind}{space}
Abstract: Listed abstract of {id}.</description>
      <guid isPermaLink="false">oai:arXiv.org:{id}v{version}</guid>
      <category>cs.LG</category>
      <pubDate>Fri, 18 Sep 2026 00:00:00 -0400</pubDate>
      <arxiv:announce_type>{kind}</arxiv:announce_type>
      <dc:creator>Rosa Delgado, Amir Haddad</dc:creator>
    </item>
"""


def rss_listing(ids: list[str], kind: str = "new", version: int = 1) -> str:
    """An RSS listing with one item per id, all of one announce type."""
    items = "".join(_ITEM.format(id=i, kind=kind, version=version, space=" ") for i in ids)
    return _RSS_HEAD + items + "  </channel>\n</rss>\n"
