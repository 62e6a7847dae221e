"""arXiv's subject classification, as data: which category and archive codes exist.

Written from arXiv's category taxonomy (https://arxiv.org/category_taxonomy). A code not here
lists nothing, so the configuration refuses it rather than polling an empty feed for ever.
Alias codes (math.IT = cs.IT, math.ST = stat.TH, ...) are listed under both names because
both are valid on arXiv.
"""

from __future__ import annotations

import difflib

TAXONOMY_URL = "https://arxiv.org/category_taxonomy"

_SUBJECTS: dict[str, str] = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA "
    "NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA "
    "RT SG SP ST",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
    "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
}
# Archives that are a category in their own right (no subdivisions): each has its own listing.
_STANDALONE = ("gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex",
               "nucl-th", "quant-ph")  # fmt: skip

CATEGORIES: frozenset[str] = frozenset(
    [f"{archive}.{code}" for archive, codes in _SUBJECTS.items() for code in codes.split()]
    + list(_STANDALONE)
)
ARCHIVES: frozenset[str] = frozenset([*_SUBJECTS, *_STANDALONE])
_BY_FOLDED = {code.casefold(): code for code in CATEGORIES | ARCHIVES}


def category_problem(code: str, *, archives: bool) -> str | None:
    """None if `code` is an arXiv category (or, when `archives`, a whole archive like "cs");
    otherwise why not, with the likely intended spelling when there is one."""
    known = CATEGORIES | ARCHIVES if archives else CATEGORIES
    if code in known:
        return None
    if code in ARCHIVES:
        example = sorted(c for c in CATEGORIES if c.startswith(code + "."))[:2]
        return f'"{code}" is a whole arXiv archive, not one listing; name its categories, e.g. {_quoted(example)}'
    folded = _BY_FOLDED.get(code.casefold())
    if folded is not None and folded in known:
        return f'"{code}" is not an arXiv category (did you mean "{folded}"?)'
    close = difflib.get_close_matches(code, sorted(known), n=1, cutoff=0.75)
    if not close:
        lowered = {c.casefold(): c for c in known}
        close = [
            lowered[c]
            for c in difflib.get_close_matches(code.casefold(), lowered, n=1, cutoff=0.75)
        ]
    hint = f'did you mean "{close[0]}"?' if close else f"see {TAXONOMY_URL}"
    return f'"{code}" is not an arXiv category ({hint})'


def _quoted(codes: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in codes)
